package connsync

import (
	"encoding/json"
	"fmt"

	"fsecgm/connectors/librelinkup"
)

// Advisory lock classes (two-int4 key space, beside cgmstore's
// 1179861831 and 1179861832): (lockClassAccount, account id) serialises
// the logins to a LibreLinkUp account.
const lockClassAccount = 1179861833

// The associated data of each sealed field names its table, row and
// field, so that a ciphertext opens only where it was written.
func aadCredentials(accountPID string) []byte {
	return []byte("llu_accounts/" + accountPID + "/credentials")
}
func aadSession(accountPID string) []byte { return []byte("llu_accounts/" + accountPID + "/session") }
func aadPending(accountPID, lluPatient string) []byte {
	return []byte("llu_pending/" + accountPID + "/" + lluPatient)
}

func (s *Syncer) sealCredentials(accountPID string, c librelinkup.Credentials) (Sealed, error) {
	b, err := json.Marshal(credentialsJSON{Email: c.Email, Password: c.Password})
	if err != nil {
		return Sealed{}, fmt.Errorf("connsync: seal credentials: %w", err)
	}
	return s.keys.Seal(b, aadCredentials(accountPID))
}

func (s *Syncer) openCredentials(accountPID string, sl Sealed) (librelinkup.Credentials, error) {
	b, err := s.keys.Open(sl, aadCredentials(accountPID))
	if err != nil {
		return librelinkup.Credentials{}, fmt.Errorf("connsync: credentials of account %s: %w", accountPID, err)
	}
	var c credentialsJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return librelinkup.Credentials{}, fmt.Errorf("connsync: credentials of account %s: %w", accountPID, err)
	}
	return librelinkup.Credentials{Email: c.Email, Password: c.Password}, nil
}

func (s *Syncer) sealSession(accountPID string, sess librelinkup.Session) (Sealed, error) {
	b, err := json.Marshal(sess)
	if err != nil {
		return Sealed{}, fmt.Errorf("connsync: seal session: %w", err)
	}
	return s.keys.Seal(b, aadSession(accountPID))
}

func (s *Syncer) openSession(accountPID string, sl Sealed) (librelinkup.Session, error) {
	var sess librelinkup.Session
	b, err := s.keys.Open(sl, aadSession(accountPID))
	if err != nil {
		return sess, fmt.Errorf("connsync: session of account %s: %w", accountPID, err)
	}
	if err := json.Unmarshal(b, &sess); err != nil {
		return sess, fmt.Errorf("connsync: session of account %s: %w", accountPID, err)
	}
	return sess, nil
}

// sealedOf builds a Sealed from nullable columns; nil when absent.
func sealedOf(keyID *string, nonce, ct []byte) *Sealed {
	if keyID == nil || ct == nil {
		return nil
	}
	return &Sealed{KeyID: *keyID, Nonce: nonce, Ciphertext: ct}
}

func sealedKeyID(s *Sealed) *string {
	if s == nil {
		return nil
	}
	return &s.KeyID
}

func sealedNonce(s *Sealed) []byte {
	if s == nil {
		return nil
	}
	return s.Nonce
}

func sealedCiphertext(s *Sealed) []byte {
	if s == nil {
		return nil
	}
	return s.Ciphertext
}
