package librelinkuptest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fsecgm/cgm"
)

// claims are the claims of a LibreLinkUp token (as decoded by
// timoschlueter/nightscout-librelink-up and robberwick/pylibrelinkup): id, names, country, region, role, units, practices, email, c, s,
// exp. The fake adds jti, a per-account sequence number, so that
// ExpireTokens can revoke the tokens issued so far.
type claims struct {
	UserID    string   `json:"id"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Country   string   `json:"country"`
	Region    string   `json:"region"`
	Role      string   `json:"role"`
	Units     int      `json:"units"`
	Practices []string `json:"practices"`
	Email     string   `json:"email"`
	C         int      `json:"c"`
	S         string   `json:"s"`
	jwt.RegisteredClaims
}

// issue signs a token for a (whose mu is held) valid for d.
func (s *Server) issue(a *account, d time.Duration, product string) (string, time.Time, error) {
	a.tokenSeq++
	exp := s.now().Add(d).Truncate(time.Second)
	units := 1
	if a.spec.Unit == cgm.MmolL {
		units = 0
	}
	if product == "" {
		product = "llu.android"
	}
	cl := claims{
		UserID: a.spec.UserID, FirstName: a.spec.FirstName, LastName: a.spec.LastName,
		Country: a.spec.Country, Region: a.spec.Region, Role: "patient", Units: units,
		Practices: []string{}, Email: a.spec.Email, C: 1, S: product,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp), ID: strconv.FormatInt(a.tokenSeq, 10)},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("librelinkuptest: sign token: %w", err)
	}
	return tok, exp, nil
}

// ticket returns the fresh ticket of an authenticated reply: a 180-day
// token, signed at most once per second per account.
func (s *Server) ticket(a *account, product string) (string, time.Time, error) {
	now := s.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ticket.second == now.Unix() && a.ticket.token != "" {
		return a.ticket.token, a.ticket.exp, nil
	}
	tok, exp, err := s.issue(a, TokenLifetime, product)
	if err != nil {
		return "", time.Time{}, err
	}
	a.ticket = cachedTicket{second: now.Unix(), token: tok, exp: exp}
	return tok, exp, nil
}

// verified caches parsed tokens, so that each request does not parse and
// check the signature again.
type verified struct {
	mu sync.RWMutex
	m  map[string]*claims
	n  atomic.Int64
}

// errBadToken is the reason of every 401.
var errBadToken = errors.New("invalid or expired jwt")

// verify checks a bearer token and returns its account and sequence number.
func (s *Server) verify(header string) (*account, int64, error) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		return nil, 0, errBadToken
	}
	c := &s.pools.tokens
	c.mu.RLock()
	cl := c.m[tok]
	c.mu.RUnlock()
	if cl == nil {
		var parsed claims
		_, err := jwt.ParseWithClaims(tok, &parsed, func(*jwt.Token) (any, error) { return s.key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
		if err != nil {
			return nil, 0, errBadToken
		}
		cl = &parsed
		c.mu.Lock()
		if c.m == nil || len(c.m) > 50000 {
			c.m = make(map[string]*claims)
		}
		c.m[tok] = cl
		c.mu.Unlock()
	} else if cl.ExpiresAt == nil || !s.now().Before(cl.ExpiresAt.Time) {
		return nil, 0, errBadToken
	}
	s.mu.RLock()
	a := s.byUserID[cl.UserID]
	s.mu.RUnlock()
	if a == nil {
		return nil, 0, errBadToken
	}
	seq, err := strconv.ParseInt(cl.ID, 10, 64)
	if err != nil {
		return nil, 0, errBadToken
	}
	return a, seq, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hashString(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	var b [16]byte
	copy(b[:], sum[:16])
	return b
}

func hashUint(tag string, n uint64) [16]byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n)
	return hashString(tag + string(buf[:]))
}

// uuidFrom formats 16 bytes as a version-4 UUID.
func uuidFrom(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// regionCode reports whether s has the shape of a region code.
func regionCode(s string) bool {
	if len(s) < 2 || len(s) > 5 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || i >= 2 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// versionLess reports whether version a is below b; a malformed a is below
// anything.
func versionLess(a, b string) bool {
	pa, okA := splitVersion(a)
	pb, _ := splitVersion(b)
	if !okA {
		return true
	}
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func splitVersion(s string) ([4]int, bool) {
	var v [4]int
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}
