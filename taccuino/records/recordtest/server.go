// Package recordtest is a fake FHIR record server for tests and for
// "make run": the diabetology record, the regional EHR or a GP record that
// fsecgm delivers CGM summaries to. It speaks the real wire format over
// real HTTP: it accepts FHIR R4 transaction Bundles (application/fhir+json)
// POSTed to its base URL, implements conditional create
// (request.ifNoneExist "identifier=SYSTEM|VALUE": 200 when one resource
// matches, 201 when none, 412 when several) and conditional update (PUT
// Type?identifier=SYSTEM|VALUE), applies each transaction all or nothing,
// and answers with a transaction-response Bundle.
//
// For tests it records every request, can require a bearer token (static,
// or issued by its own OAuth 2.0 client credentials endpoint at /token),
// fails a chosen share of requests (500, 503 with Retry-After, a response
// that never comes, a dropped connection, some after the transaction was
// applied, as a real server may) with a deterministic seed, and can be
// stopped and restarted on the same port keeping its data. Inspection
// helpers count resources by identifier and find duplicates.
package recordtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Failure is a way a request fails.
type Failure uint8

// The failures the server injects.
const (
	// FailNone: the request is served.
	FailNone Failure = iota
	// Fail500: 500 Internal Server Error before the transaction is applied.
	Fail500
	// Fail503: 503 Service Unavailable with Retry-After: 1, before the
	// transaction is applied.
	Fail503
	// FailAfterCommit: the transaction is applied, then 500 is answered
	// (the client cannot know it succeeded).
	FailAfterCommit
	// FailTimeout: the transaction is applied, then no response comes
	// until the client gives up (or Options.Hang passes).
	FailTimeout
	// FailDrop: the connection is closed without a response, before the
	// transaction is applied.
	FailDrop
)

var failureNames = [...]string{"none", "500", "503", "after-commit", "timeout", "drop"}

// String returns the failure's name.
func (f Failure) String() string {
	if int(f) < len(failureNames) {
		return failureNames[f]
	}
	return fmt.Sprintf("Failure(%d)", uint8(f))
}

// Options configure a Server.
type Options struct {
	// Addr is the listen address (default 127.0.0.1:0, a free port).
	Addr string
	// BasePath is the path of the FHIR base (default "/fhir").
	BasePath string
	// Token, when set, is a bearer token every FHIR request must carry.
	Token string
	// Clients, when set, are OAuth 2.0 clients (id → secret) that may get
	// access tokens at /token with the client credentials grant; those
	// tokens are then accepted too.
	Clients map[string]string
	// TokenLifetime is the lifetime of issued access tokens (default 1
	// hour).
	TokenLifetime time.Duration
	// FailRate is the share of FHIR requests that fail (0 to 1), with
	// Failures chosen among Failures (default: all but FailNone), from
	// Seed: the same seed fails the same requests.
	FailRate float64
	Failures []Failure
	Seed     uint64
	// Hang is how long a FailTimeout response is held back at most
	// (default 30 seconds).
	Hang time.Duration
	// Logger logs each request at debug level. Nil discards.
	Logger *slog.Logger
}

// Request is a request the server received.
type Request struct {
	// Method and Path as received.
	Method, Path string
	// Entries is the number of entries of a transaction Bundle.
	Entries int
	// Failure is the failure injected (FailNone when served).
	Failure Failure
	// Status is the HTTP status answered (0 for a dropped or abandoned
	// request).
	Status int
	// Applied reports whether the transaction was applied.
	Applied bool
	// At is when it arrived.
	At time.Time
}

// Resource is a resource the server holds.
type Resource struct {
	Type, ID string
	// Version counts its versions (conditional updates).
	Version int
	// JSON is the resource as received (a read gives it the server's id).
	JSON json.RawMessage
	// Identifiers are its "system|value" identifiers.
	Identifiers []string
}

// Server is a fake FHIR record server. Its methods are safe for
// concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	done     chan struct{}
	addr     string
	rng      *mrand.Rand
	next     int
	byID     map[string]*Resource // "Type/id"
	byIdent  map[string][]string  // "Type system|value" → "Type/id"
	order    []string             // "Type/id" in creation order
	requests []Request
	bodies   [][]byte             // bodies of the transactions applied
	tokens   map[string]time.Time // issued access token → expiry
	stopped  bool
	hang     chan struct{} // closed at Stop: releases held responses
}

// New starts a server.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.BasePath == "" {
		opts.BasePath = "/fhir"
	}
	opts.BasePath = "/" + strings.Trim(opts.BasePath, "/")
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Hang <= 0 {
		opts.Hang = 30 * time.Second
	}
	if opts.FailRate < 0 || opts.FailRate > 1 {
		return nil, fmt.Errorf("recordtest: fail rate %g: want 0 to 1", opts.FailRate)
	}
	if len(opts.Failures) == 0 {
		opts.Failures = []Failure{Fail500, Fail503, FailAfterCommit, FailTimeout, FailDrop}
	}
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: l, rng: mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		byID: map[string]*Resource{}, byIdent: map[string][]string{}, tokens: map[string]time.Time{}}
	if err := s.listen(opts.Addr); err != nil {
		return nil, err
	}
	return s, nil
}

// listen starts serving on addr.
func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("recordtest: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	s.mu.Lock()
	s.ln, s.srv, s.done, s.addr, s.stopped, s.hang = ln, srv, done, ln.Addr().String(), false, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return nil
}

// URL returns the FHIR base URL ("http://127.0.0.1:PORT/fhir").
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr + s.opts.BasePath
}

// TokenURL returns the URL of the client credentials token endpoint.
func (s *Server) TokenURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr + "/token"
}

// Stop closes the listener and every connection at once, as a crash
// would; held responses are abandoned. The data stays.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	srv, done, hang := s.srv, s.done, s.hang
	s.mu.Unlock()
	close(hang)
	_ = srv.Close()
	<-done
}

// Restart starts serving again on the same address (after Stop), with the
// data kept.
func (s *Server) Restart() error {
	s.mu.Lock()
	addr, stopped := s.addr, s.stopped
	s.mu.Unlock()
	if !stopped {
		return errors.New("recordtest: restart: the server is running")
	}
	var err error
	for range 50 { // the port may linger a moment after Close
		if err = s.listen(addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// SetFailRate changes the share of failing requests.
func (s *Server) SetFailRate(rate float64) {
	s.mu.Lock()
	s.opts.FailRate = rate
	s.mu.Unlock()
}

// ServeHTTP serves the FHIR base and the token endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		s.serveToken(w, r)
	case r.URL.Path == s.opts.BasePath || r.URL.Path == s.opts.BasePath+"/":
		s.serveBase(w, r)
	case strings.HasPrefix(r.URL.Path, s.opts.BasePath+"/") && r.Method == http.MethodGet:
		s.serveRead(w, r)
	default:
		writeOutcome(w, http.StatusNotFound, "not-found", "no such endpoint")
	}
}

// serveToken issues access tokens (RFC 6749 §4.4).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "unsupported_grant_type"})
		return
	}
	want, known := s.opts.Clients[id]
	if !ok || !known || want != secret {
		w.Header().Set("WWW-Authenticate", `Basic realm="recordtest"`)
		writeJSON(w, http.StatusUnauthorized, "application/json", map[string]string{"error": "invalid_client"})
		return
	}
	tok := randomHex()
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.opts.TokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(s.opts.TokenLifetime / time.Second)})
}

// authorized checks the bearer token when one is required.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" && len(s.opts.Clients) == 0 {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	if s.opts.Token != "" && tok == s.opts.Token {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// record appends a request to the log and returns its index.
func (s *Server) record(q Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, q)
	return len(s.requests) - 1
}

// update changes a logged request.
func (s *Server) update(i int, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.requests[i])
}

// pickFailure draws the failure of the next request.
func (s *Server) pickFailure() Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.FailRate <= 0 || s.rng.Float64() >= s.opts.FailRate {
		return FailNone
	}
	return s.opts.Failures[s.rng.IntN(len(s.opts.Failures))]
}

// maxBody bounds a transaction Bundle.
const maxBody = 64 << 20

// serveBase handles POST [base]: a transaction.
func (s *Server) serveBase(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "only POST (a transaction Bundle) is supported at the base")
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="recordtest"`)
		s.record(Request{Method: r.Method, Path: r.URL.Path, Status: 401, At: time.Now()})
		writeOutcome(w, http.StatusUnauthorized, "login", "a valid bearer token is required")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeOutcome(w, http.StatusRequestEntityTooLarge, "too-costly", "the body is too large or unreadable")
		return
	}
	f := s.pickFailure()
	i := s.record(Request{Method: r.Method, Path: r.URL.Path, Failure: f, At: time.Now()})
	defer func() {
		s.mu.Lock()
		q := s.requests[i]
		s.mu.Unlock()
		s.log.Debug("recordtest: transaction", "entries", q.Entries, "failure", q.Failure.String(), "status", q.Status, "applied", q.Applied)
	}()
	status := func(code int) { s.update(i, func(q *Request) { q.Status = code }) }
	switch f {
	case Fail500:
		status(500)
		writeOutcome(w, http.StatusInternalServerError, "exception", "injected failure")
		return
	case Fail503:
		status(503)
		w.Header().Set("Retry-After", "1")
		writeOutcome(w, http.StatusServiceUnavailable, "transient", "injected failure")
		return
	case FailDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/fhir+json") && !strings.HasPrefix(mt, "application/json") {
		status(415)
		writeOutcome(w, http.StatusUnsupportedMediaType, "not-supported", "the body must be application/fhir+json")
		return
	}
	resp, n, code, err := s.transaction(body)
	s.update(i, func(q *Request) { q.Entries, q.Applied = n, err == nil })
	if err != nil {
		status(code)
		writeOutcome(w, code, "invalid", err.Error())
		return
	}
	switch f {
	case FailAfterCommit:
		status(500)
		writeOutcome(w, http.StatusInternalServerError, "exception", "injected failure after commit")
		return
	case FailTimeout:
		s.mu.Lock()
		hang := s.hang
		s.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-hang:
		case <-time.After(s.opts.Hang):
		}
		panic(http.ErrAbortHandler) // no response at all
	}
	status(200)
	writeJSON(w, http.StatusOK, "application/fhir+json", resp)
}

// serveRead handles GET [base]/Type/id.
func (s *Server) serveRead(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeOutcome(w, http.StatusUnauthorized, "login", "a valid bearer token is required")
		return
	}
	key := strings.TrimPrefix(r.URL.Path, s.opts.BasePath+"/")
	s.mu.Lock()
	res, ok := s.byID[key]
	var body json.RawMessage
	if ok {
		body = withID(res.JSON, res.ID)
	}
	s.mu.Unlock()
	if !ok {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such resource")
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// entry is a transaction entry as read.
type entry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`
}

// parseCondition reads "identifier=SYSTEM|VALUE" (the only condition
// supported).
func parseCondition(q string) (string, error) {
	v, err := url.ParseQuery(q)
	if err != nil || len(v) != 1 || len(v["identifier"]) != 1 {
		return "", fmt.Errorf("only identifier=SYSTEM|VALUE is supported as a condition")
	}
	id := v["identifier"][0]
	if !strings.Contains(id, "|") {
		return "", fmt.Errorf("the identifier condition needs SYSTEM|VALUE")
	}
	return id, nil
}

// parsedEntry is a transaction entry, read and checked.
type parsedEntry struct {
	typ, method, cond string
	idents            []string
	resource          json.RawMessage
}

// parseTransaction reads a transaction Bundle; the error is a 400.
func parseTransaction(body []byte) ([]parsedEntry, error) {
	var b struct {
		ResourceType string  `json:"resourceType"`
		Type         string  `json:"type"`
		Entry        []entry `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("not a JSON Bundle")
	}
	if b.ResourceType != "Bundle" || b.Type != "transaction" {
		return nil, fmt.Errorf("only transaction Bundles are accepted at the base")
	}
	out := make([]parsedEntry, len(b.Entry))
	for i, e := range b.Entry {
		if e.Request == nil || len(e.Resource) == 0 {
			return nil, fmt.Errorf("entry %d: a transaction entry needs a request and a resource", i)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			Identifier   []struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"identifier"`
		}
		if err := json.Unmarshal(e.Resource, &head); err != nil || head.ResourceType == "" {
			return nil, fmt.Errorf("entry %d: the resource is not FHIR JSON", i)
		}
		pe := parsedEntry{method: e.Request.Method, resource: e.Resource}
		for _, id := range head.Identifier {
			pe.idents = append(pe.idents, id.System+"|"+id.Value)
		}
		var query string
		pe.typ, query, _ = strings.Cut(e.Request.URL, "?")
		if pe.typ != head.ResourceType {
			return nil, fmt.Errorf("entry %d: request.url names %s, the resource is a %s", i, pe.typ, head.ResourceType)
		}
		var err error
		switch e.Request.Method {
		case http.MethodPost:
			if e.Request.IfNoneExist != "" {
				pe.cond, err = parseCondition(e.Request.IfNoneExist)
			}
		case http.MethodPut:
			pe.cond, err = parseCondition(query)
		default:
			err = fmt.Errorf("method %s is not supported", e.Request.Method)
		}
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out[i] = pe
	}
	return out, nil
}

// transaction applies a transaction Bundle all or nothing and returns the
// transaction-response. Resources are kept as received (their id is the
// server's, given on read).
func (s *Server) transaction(body []byte) (resp map[string]any, n int, code int, err error) {
	entries, err := parseTransaction(body)
	if err != nil {
		return nil, 0, 400, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type change struct {
		res     *Resource
		created bool
	}
	pending := map[string]*Resource{} // creations and updates of this transaction
	var changes []change
	out := make([]any, len(entries))
	find := func(typ, ident string) []*Resource {
		var m []*Resource
		seen := map[string]bool{}
		for _, r := range pending {
			if r.Type == typ && contains(r.Identifiers, ident) {
				m = append(m, r)
				seen[r.Type+"/"+r.ID] = true
			}
		}
		for _, k := range s.byIdent[typ+" "+ident] {
			if !seen[k] {
				m = append(m, s.byID[k])
			}
		}
		return m
	}
	for i, e := range entries {
		var matches []*Resource
		if e.cond != "" {
			matches = find(e.typ, e.cond)
		}
		if len(matches) > 1 {
			return nil, len(entries), 412, fmt.Errorf("entry %d: %d resources match %s", i, len(matches), e.cond)
		}
		if len(matches) == 1 && e.method == http.MethodPost {
			m := matches[0]
			out[i] = map[string]any{"response": map[string]any{"status": "200 OK",
				"location": fmt.Sprintf("%s/%s/_history/%d", m.Type, m.ID, m.Version)}}
			continue
		}
		r := &Resource{Type: e.typ, Identifiers: e.idents, Version: 1, JSON: e.resource}
		created := true
		if len(matches) == 1 { // conditional update
			old := matches[0]
			r.ID, r.Version, created = old.ID, old.Version+1, false
		} else {
			s.next++
			r.ID = fmt.Sprintf("%d", s.next)
		}
		pending[e.typ+"/"+r.ID] = r
		changes = append(changes, change{res: r, created: created})
		status := "201 Created"
		if !created {
			status = "200 OK"
		}
		out[i] = map[string]any{"response": map[string]any{"status": status,
			"location": fmt.Sprintf("%s/%s/_history/%d", e.typ, r.ID, r.Version)}}
	}
	// Commit.
	s.bodies = append(s.bodies, body)
	for _, c := range changes {
		k := c.res.Type + "/" + c.res.ID
		if old, ok := s.byID[k]; ok {
			for _, id := range old.Identifiers {
				s.unindex(c.res.Type+" "+id, k)
			}
		} else {
			s.order = append(s.order, k)
		}
		s.byID[k] = c.res
		for _, id := range c.res.Identifiers {
			s.byIdent[c.res.Type+" "+id] = append(s.byIdent[c.res.Type+" "+id], k)
		}
	}
	return map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": out}, len(entries), 200, nil
}

// unindex removes key from the identifier index entry ident.
func (s *Server) unindex(ident, key string) {
	ks := s.byIdent[ident]
	for i, k := range ks {
		if k == key {
			s.byIdent[ident] = append(ks[:i:i], ks[i+1:]...)
			return
		}
	}
}

// withID returns the resource JSON with its id replaced by id.
func withID(raw json.RawMessage, id string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	m["id"], _ = json.Marshal(id)
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeOutcome writes an OperationOutcome.
func writeOutcome(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, "application/fhir+json", map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "error", "code": code, "diagnostics": msg}}})
}

// Bodies returns the bodies of the transactions applied, in order.
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// TokensIssued returns how many access tokens /token issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Resources returns the resources held, of type typ ("" for all), in
// creation order.
func (s *Server) Resources(typ string) []Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Resource
	for _, k := range s.order {
		r := s.byID[k]
		if typ == "" || r.Type == typ {
			out = append(out, *r)
		}
	}
	return out
}

// Count returns how many resources of type typ carry the identifier
// "system|value".
func (s *Server) Count(typ, identifier string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.byID {
		if r.Type == typ && contains(r.Identifiers, identifier) {
			n++
		}
	}
	return n
}

// Identifiers returns how many resources of type typ carry each
// identifier ("system|value").
func (s *Server) Identifiers(typ string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.byID {
		if typ == "" || r.Type == typ {
			for _, id := range r.Identifiers {
				out[id]++
			}
		}
	}
	return out
}

// Duplicates returns the identifiers ("Type system|value") carried by
// more than one resource of a type, sorted.
func (s *Server) Duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, r := range s.byID {
		for _, id := range r.Identifiers {
			n[r.Type+" "+id]++
		}
	}
	var out []string
	for k, c := range n {
		if c > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Serve runs the server until ctx is cancelled, then stops it: for
// "fsecgm fake-records".
func (s *Server) Serve(ctx context.Context) error {
	<-ctx.Done()
	s.Stop()
	return nil
}
