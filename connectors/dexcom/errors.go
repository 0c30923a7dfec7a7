package dexcom

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"fsecgm/connectors/internal/upstream"
)

// Kind classifies a failed call.
type Kind uint8

// The kinds of failure.
const (
	// KindAccessDenied: the patient declined the consent at Dexcom
	// (error=access_denied on the redirect).
	KindAccessDenied Kind = iota + 1
	// KindInvalidGrant: the authorization code or the refresh token was
	// refused (RFC 6749 §5.2 invalid_grant: expired, used, or the patient
	// withdrew the consent at Dexcom). Only a new authorization helps.
	KindInvalidGrant
	// KindInvalidClient: the application's credentials or redirect URI
	// were refused (invalid_client, unauthorized_client): the operator's.
	KindInvalidClient
	// KindUnauthorized: HTTP 401 on a data call (the access token expired
	// or was revoked): refresh once.
	KindUnauthorized
	// KindRateLimited: HTTP 429, the application's 60,000 requests an hour
	// spent.
	KindRateLimited
	// KindBadRequest: HTTP 400 on a data call (a window this client should
	// not have asked for): the developers'.
	KindBadRequest
	// KindServerError: HTTP 5xx.
	KindServerError
	// KindTimeout and KindNetwork: no complete answer.
	KindTimeout
	KindNetwork
	// KindMalformedJSON: a body that is not the JSON the API documents.
	KindMalformedJSON
	// KindUnexpected: any other answer.
	KindUnexpected
)

var kindNames = [...]string{
	KindAccessDenied:  "access denied",
	KindInvalidGrant:  "authorization revoked",
	KindInvalidClient: "invalid client",
	KindUnauthorized:  "unauthorized",
	KindRateLimited:   "rate limited",
	KindBadRequest:    "bad request",
	KindServerError:   "server error",
	KindTimeout:       "timeout",
	KindNetwork:       "network error",
	KindMalformedJSON: "malformed JSON",
	KindUnexpected:    "unexpected answer",
}

// String returns a short English name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Action is what the sync does after a failure.
type Action uint8

// The actions.
const (
	// ActionRetry: try again at the next sync.
	ActionRetry Action = iota + 1
	// ActionBackOff: no request before Error.Backoff has passed.
	ActionBackOff
	// ActionRefresh: refresh the access token (once) and try again.
	ActionRefresh
	// ActionReauthorize: only the patient's new consent helps; no request
	// is made until then.
	ActionReauthorize
	// ActionOperator: fsecgm's configuration or code must change.
	ActionOperator
)

// Action returns what to do after a failure of kind k.
func (k Kind) Action() Action {
	switch k {
	case KindAccessDenied, KindInvalidGrant:
		return ActionReauthorize
	case KindInvalidClient, KindBadRequest:
		return ActionOperator
	case KindUnauthorized:
		return ActionRefresh
	case KindRateLimited:
		return ActionBackOff
	}
	return ActionRetry
}

// DefaultRateLimitWait is the wait after a 429 without Retry-After: the
// limit is counted per hour, and a minute lets the hour's window move on.
const DefaultRateLimitWait = time.Minute

// Text is a message for people, in Italian and English.
type Text struct {
	IT string
	EN string
}

var advice = [...]Text{
	KindAccessDenied: {
		IT: "Il consenso a Dexcom non è stato dato: nessun dato è stato collegato. Per collegare il sensore, ripetere il collegamento e accettare la condivisione sulla pagina di Dexcom.",
		EN: "Consent at Dexcom was not given: no data was connected. To connect the sensor, start again and accept the sharing on Dexcom's page.",
	},
	KindInvalidGrant: {
		IT: "Dexcom non accetta più l'autorizzazione (consenso ritirato sull'account Dexcom, o scaduto). fsecgm non riprova: scollegare Dexcom e collegarlo di nuovo dal taccuino.",
		EN: "Dexcom no longer accepts the authorization (consent withdrawn in the Dexcom account, or expired). fsecgm does not try again: disconnect Dexcom and connect it again from the notebook.",
	},
	KindInvalidClient: {
		IT: "Dexcom rifiuta le credenziali dell'applicazione fsecgm: l'operatore deve verificare FSECGM_DEXCOM_CLIENT_ID, il segreto e l'indirizzo di ritorno registrati presso Dexcom.",
		EN: "Dexcom refuses the fsecgm application's credentials: the operator must check FSECGM_DEXCOM_CLIENT_ID, the secret and the redirect URI registered with Dexcom.",
	},
	KindUnauthorized: {
		IT: "Dexcom non accetta il token di accesso: fsecgm lo rinnova e riprova.",
		EN: "Dexcom does not accept the access token: fsecgm renews it and tries again.",
	},
	KindRateLimited: {
		IT: "Troppe richieste a Dexcom per l'applicazione fsecgm: fsecgm attende e riprova. Nessuna azione necessaria.",
		EN: "Too many requests to Dexcom for the fsecgm application: fsecgm waits and tries again. Nothing to do.",
	},
	KindBadRequest: {
		IT: "Dexcom ha rifiutato la richiesta di fsecgm: gli sviluppatori devono correggerla. fsecgm riprova alla prossima sincronizzazione.",
		EN: "Dexcom refused fsecgm's request: the developers must fix it. fsecgm tries again at the next sync.",
	},
	KindServerError: {
		IT: "Dexcom ha risposto con un errore del server. Nessuna azione: fsecgm riprova alla prossima sincronizzazione.",
		EN: "Dexcom answered with a server error. Nothing to do: fsecgm tries again at the next sync.",
	},
	KindTimeout: {
		IT: "Dexcom non ha risposto in tempo. fsecgm riprova alla prossima sincronizzazione.",
		EN: "Dexcom did not answer in time. fsecgm tries again at the next sync.",
	},
	KindNetwork: {
		IT: "Dexcom non è raggiungibile. fsecgm riprova alla prossima sincronizzazione; se persiste, l'operatore controlli la rete.",
		EN: "Dexcom cannot be reached. fsecgm tries again at the next sync; if it persists, the operator should check the network.",
	},
	KindMalformedJSON: {
		IT: "La risposta di Dexcom era incompleta o non valida. Non è stato salvato nulla; fsecgm riprova alla prossima sincronizzazione.",
		EN: "Dexcom's answer was incomplete or invalid. Nothing was stored; fsecgm tries again at the next sync.",
	},
	KindUnexpected: {
		IT: "Dexcom ha risposto in un modo che fsecgm non conosce. fsecgm riprova alla prossima sincronizzazione; se persiste, avvisare gli sviluppatori.",
		EN: "Dexcom answered in a way fsecgm does not know. fsecgm tries again at the next sync; if it persists, tell the developers.",
	},
}

// Advice returns what to do about a failure of kind k.
func (k Kind) Advice() Text {
	if int(k) < len(advice) && advice[k].IT != "" {
		return advice[k]
	}
	return advice[KindUnexpected]
}

// Error is a failed Dexcom call. It never holds a token or a value.
type Error struct {
	Kind Kind
	// Op is the call: "authorize", "token", "refresh", "egvs",
	// "dataRange" or "devices".
	Op         string
	HTTPStatus int
	// Code is the OAuth error code of a token answer (invalid_grant, …).
	Code string
	// RetryAfter is the wait a 429 asked for (0 when none).
	RetryAfter time.Duration
	Message    string
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dexcom: ")
	if e.Op != "" {
		b.WriteString(e.Op + ": ")
	}
	b.WriteString(e.Kind.String())
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Action returns what to do; see [Kind.Action].
func (e *Error) Action() Action { return e.Kind.Action() }

// Advice returns what to do, for the patient and the operator.
func (e *Error) Advice() Text { return e.Kind.Advice() }

// Backoff returns how long to make no request after the failure.
func (e *Error) Backoff() time.Duration {
	if e.RetryAfter > 0 {
		return e.RetryAfter
	}
	if e.Kind == KindRateLimited {
		return DefaultRateLimitWait
	}
	return 0
}

// KindOf returns the kind of a Dexcom error in err's chain, 0 when none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// oauthError is an RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// check classifies an answer that is not a 2xx, and returns nil for one
// that is.
func (c *Client) check(op string, r *reply) *Error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	e := &Error{Op: op, HTTPStatus: r.status}
	var oe oauthError
	if json.Unmarshal(r.body, &oe) == nil && oe.Error != "" {
		e.Code, e.Message = upstream.Clean(oe.Error), upstream.Clean(oe.Description)
	}
	switch {
	case r.status == http.StatusTooManyRequests:
		e.Kind, e.RetryAfter = KindRateLimited, upstream.RetryAfter(r.header.Get("Retry-After"), c.now(), 6*time.Hour)
	case r.status >= 500:
		e.Kind = KindServerError
	case op == opToken || op == opRefresh:
		// RFC 6749 §5.2: invalid_grant is the code or refresh token;
		// the other codes are the client's request or credentials.
		switch {
		case e.Code == "invalid_grant":
			e.Kind = KindInvalidGrant
		case e.Code != "" || r.status == http.StatusUnauthorized:
			e.Kind = KindInvalidClient
		default:
			e.Kind = KindUnexpected
		}
	case r.status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
	case r.status == http.StatusBadRequest:
		e.Kind = KindBadRequest
	default:
		e.Kind = KindUnexpected
	}
	return e
}
