package librelinkup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/connectors/internal/upstream"
)

// Defaults of [Config].
const (
	DefaultProduct = "llu.android"
	// DefaultVersion is the app version sent in the version header: the
	// minimum is 4.16.0 since October 2025 and clients send 4.17.0
	// (timoschlueter/nightscout-librelink-up issue #201;
	// pachi81/GlucoDataHandler commit 671f89ac).
	DefaultVersion      = "4.17.0"
	DefaultTimeout      = 30 * time.Second
	DefaultRenewBefore  = 24 * time.Hour
	DefaultMaxBodyBytes = 5 << 20
)

// Config configures a [Client]. The zero value talks to the real regional
// hosts with the defaults above.
type Config struct {
	// BaseURL overrides the regional host table (FSECGM_LIBRELINKUP_URL).
	// A "{region}" in it is replaced by the region code, or by "global" for
	// the global host: "http://127.0.0.1:8091/{region}" reaches every region
	// of the fake LibreLinkUp. Without the placeholder every region uses the
	// same URL, and a login redirect fails with KindWrongRegion.
	BaseURL string
	// Region is where logins start: "" for the global host, which
	// redirects to the account's region, or a region code ("eu") to skip
	// the redirect.
	Region string
	// Product is the product header: "llu.android" (default) or "llu.ios".
	Product string
	// Version is the version header, DefaultVersion by default. A 920
	// answer raises it (see OnWarning).
	Version string
	// UserAgent is sent as User-Agent (default "fsecgm").
	UserAgent string
	// HTTPClient does the requests. The default has DefaultTimeout, keeps
	// idle connections for reuse and does not follow HTTP redirects. A given
	// client should do the same; add a cookie jar to it if Cloudflare asks
	// for cookies (timoschlueter/nightscout-librelink-up issue #129, commit
	// ea89511).
	HTTPClient *http.Client
	// Now is the clock (time.Now by default); tests move it.
	Now func() time.Time
	// Logger receives debug lines per request and warnings; never tokens,
	// passwords, names or glucose values. Default: discard.
	Logger *slog.Logger
	// OnWarning, if set, is called when the client changed its own
	// behaviour in a way the operator must know (the version header was
	// raised after a 920 answer). It must not block.
	OnWarning func(Warning)
	// RenewBefore is how long before a token's expiry a data call logs in
	// again (when it has credentials). Default DefaultRenewBefore.
	RenewBefore time.Duration
	// MaxBodyBytes bounds a reply body; a larger one is an error
	// (KindMalformedJSON). Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Warning tells the operator that the client adapted to the server.
type Warning struct {
	// Op is the call during which it happened.
	Op string
	// OldVersion and NewVersion are the version header before and after a
	// 920 answer.
	OldVersion, NewVersion string
	// Text says what happened and what to do.
	Text Text
}

// Client is a LibreLinkUp API client. It is safe for concurrent use and
// reuses HTTP connections; one Client serves every account.
type Client struct {
	baseURL     string
	region      string
	product     string
	userAgent   string
	hc          *http.Client
	now         func() time.Time
	log         *slog.Logger
	onWarning   func(Warning)
	renewBefore time.Duration
	maxBody     int64

	mu      sync.Mutex
	version string

	bufs sync.Pool // *bytes.Buffer for reply bodies
}

// NewHTTPClient returns the HTTP client a Client uses by default: the
// given overall timeout, connection reuse sized for thousands of accounts
// on a few hosts, and no following of HTTP redirects (the API never
// redirects over HTTP; following one could send the token elsewhere).
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 90 * time.Second
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// New returns a client for cfg. It fails only on a malformed BaseURL,
// Region or Version.
func New(cfg Config) (*Client, error) {
	c := &Client{
		baseURL:     strings.TrimSpace(cfg.BaseURL),
		region:      cfg.Region,
		product:     cfg.Product,
		userAgent:   cfg.UserAgent,
		hc:          cfg.HTTPClient,
		now:         cfg.Now,
		log:         cfg.Logger,
		onWarning:   cfg.OnWarning,
		renewBefore: cfg.RenewBefore,
		maxBody:     cfg.MaxBodyBytes,
		version:     cfg.Version,
	}
	if c.baseURL != "" {
		u, err := url.Parse(strings.ReplaceAll(c.baseURL, RegionPlaceholder, GlobalRegion))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("librelinkup: base URL %q: want http(s)://host[/path], optionally with %s", cfg.BaseURL, RegionPlaceholder)
		}
	}
	if c.region != "" && !ValidRegion(c.region) {
		return nil, fmt.Errorf("librelinkup: region %q: want a region code such as eu, eu2, de", c.region)
	}
	if c.product == "" {
		c.product = DefaultProduct
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if _, ok := parseVersion(c.version); !ok {
		return nil, fmt.Errorf("librelinkup: version %q: want digits and dots such as %s", c.version, DefaultVersion)
	}
	if c.userAgent == "" {
		c.userAgent = "fsecgm"
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(DefaultTimeout)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.renewBefore <= 0 {
		c.renewBefore = DefaultRenewBefore
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// Version returns the version header the client sends now.
func (c *Client) Version() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// RegionURL returns the base URL the client uses for a region code ("" for
// the global host).
func (c *Client) RegionURL(region string) (string, error) {
	u, err := regionURL(c.baseURL, region)
	if err != nil {
		return "", fmt.Errorf("librelinkup: %w", err)
	}
	return u, nil
}

// raiseVersion adopts the minimum version of a 920 answer when it is newer
// than the one sent, and reports whether it did.
func (c *Client) raiseVersion(op, sent, minimum string) bool {
	want, ok := parseVersion(minimum)
	if !ok {
		return false
	}
	have, _ := parseVersion(sent)
	if compareVersions(want, have) <= 0 {
		return false
	}
	c.mu.Lock()
	cur, _ := parseVersion(c.version)
	raised := compareVersions(want, cur) > 0
	if raised {
		c.version = minimum
	}
	c.mu.Unlock()
	if raised {
		w := Warning{Op: op, OldVersion: sent, NewVersion: minimum, Text: Text{
			IT: fmt.Sprintf("LibreLinkUp ha rifiutato la versione %s e richiede almeno la %s: fsecgm ora invia %s. Aggiornare la versione configurata (FSECGM_LIBRELINKUP_VERSION) e verificare che l'API non sia cambiata.", sent, minimum, minimum),
			EN: fmt.Sprintf("LibreLinkUp rejected version %s and requires at least %s: fsecgm now sends %s. Update the configured version (FSECGM_LIBRELINKUP_VERSION) and check that the API has not changed.", sent, minimum, minimum),
		}}
		c.log.Warn("librelinkup: version header raised after a 920 answer", "op", op, "old", sent, "new", minimum)
		if c.onWarning != nil {
			c.onWarning(w)
		}
	}
	return true
}

// parseVersion parses "4.17.0" (one to four numeric parts).
func parseVersion(s string) ([4]int, bool) {
	var v [4]int
	parts := strings.Split(s, ".")
	if len(s) > 24 || len(parts) > 4 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || p[0] == '+' {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func compareVersions(a, b [4]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// reply is an HTTP answer read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
	buf    *bytes.Buffer
}

// release returns the body buffer to the pool; the body must not be used
// after it.
func (c *Client) release(r *reply) {
	if r != nil && r.buf != nil && r.buf.Cap() <= 1<<20 {
		r.buf.Reset()
		c.bufs.Put(r.buf)
		r.buf, r.body = nil, nil
	}
}

// send makes one request and reads the whole answer. Transport failures
// come back as *Error (KindTimeout, KindNetwork, KindMalformedJSON for a
// cut or oversized body), a cancelled ctx as a wrapped ctx error.
func (c *Client) send(ctx context.Context, op, method, u string, body []byte, s *Session, version string) (*reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("librelinkup: %s: build request: %w", op, err)
	}
	h := req.Header
	h.Set("product", c.product)
	h.Set("version", version)
	h.Set("Accept", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("User-Agent", c.userAgent)
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if s != nil {
		h.Set("Authorization", "Bearer "+s.Token)
		if s.AccountID != "" {
			h.Set("Account-Id", s.AccountID)
		}
	}
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	buf, _ := c.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1))
	r := &reply{status: resp.StatusCode, header: resp.Header, body: buf.Bytes(), buf: buf}
	if err != nil {
		c.release(r)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode, Message: "body cut short", Err: err}
		}
		return nil, c.transportError(ctx, op, err)
	}
	if int64(len(r.body)) > c.maxBody {
		c.release(r)
		return nil, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode,
			Message: fmt.Sprintf("body larger than %d bytes", c.maxBody)}
	}
	c.log.Debug("librelinkup: request", "op", op, "status", resp.StatusCode, "bytes", len(r.body),
		"elapsed", c.now().Sub(start))
	return r, nil
}

// transportError classifies a failure to get an answer.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("librelinkup: %s: %w", op, ctx.Err())
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Kind: KindTimeout, Op: op, Err: err}
	}
	return &Error{Kind: KindNetwork, Op: op, Err: err}
}

// envelope is the part of every JSON body that says how the call went.
type envelope struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"`
	Data json.RawMessage `json:"data"`
}

// errorData is the data of the non-zero status bodies.
type errorData struct {
	MinimumVersion string `json:"minimumVersion"`
	Message        string `json:"message"`
	Data           *struct {
		Lockout int `json:"lockout"`
	} `json:"data"`
	Step *struct {
		Type string `json:"type"`
	} `json:"step"`
}

// check classifies an answer that is not a 2xx JSON body, and returns nil
// for one that is (its status field is then for the decoder to read).
func (c *Client) check(op string, r *reply) *Error {
	html := isHTML(r)
	switch {
	case r.status >= 500:
		e := &Error{Kind: KindServerError, Op: op, HTTPStatus: r.status, RetryAfter: c.retryAfter(r.header)}
		if html {
			e.Message = htmlTitle(r.body)
		} else {
			c.fillFromBody(e, r.body)
		}
		return e
	case html:
		return &Error{Kind: KindHTMLPage, Op: op, HTTPStatus: r.status, RetryAfter: c.retryAfter(r.header),
			Message: htmlTitle(r.body)}
	case r.status >= 200 && r.status < 300:
		return nil
	case op == opLogin && (r.status == 430 || r.status == http.StatusForbidden) && len(bytes.TrimSpace(r.body)) == 0:
		// No body, no reason: legal documents to accept, in the app or on
		// the LibreView website (reference librelinkup.md §8).
		return &Error{Kind: KindLoginRefused, Op: op, HTTPStatus: r.status, Message: "login refused with an empty body"}
	}
	e := &Error{Op: op, HTTPStatus: r.status, RetryAfter: c.retryAfter(r.header)}
	var env envelope
	parsed := json.Unmarshal(r.body, &env) == nil
	if parsed && env.Status != 0 {
		se := c.statusError(op, r, &env)
		se.HTTPStatus = r.status
		if se.RetryAfter == 0 {
			se.RetryAfter = e.RetryAfter
		}
		return se
	}
	if parsed {
		e.Message = upstream.Clean(firstNonEmpty(env.Message, errMsg(&env)))
	}
	switch r.status {
	case http.StatusUnauthorized:
		e.Kind = KindUnauthorized
	case http.StatusTooManyRequests:
		e.Kind = KindRateLimited
	case http.StatusBadRequest:
		e.Kind = KindUnexpected
		if e.Message == "RequiredHeaderMissing" {
			e.Kind = KindRequiredHeaderMissing
		}
	default:
		e.Kind = KindUnexpected
	}
	return e
}

// fillFromBody copies the message of a JSON error body into e.
func (c *Client) fillFromBody(e *Error, body []byte) {
	var env envelope
	if json.Unmarshal(body, &env) == nil {
		e.Status = env.Status
		e.Message = upstream.Clean(firstNonEmpty(env.Message, errMsg(&env)))
	}
}

// statusError classifies a JSON body whose status is not 0 (the statuses
// the open-source clients handle: timoschlueter/nightscout-librelink-up,
// robberwick/pylibrelinkup, gui-dos/DiaBLE).
func (c *Client) statusError(op string, r *reply, env *envelope) *Error {
	e := &Error{Op: op, HTTPStatus: r.status, Status: env.Status, Message: upstream.Clean(firstNonEmpty(errMsg(env), env.Message))}
	var d errorData
	if len(env.Data) > 0 && env.Data[0] == '{' {
		_ = json.Unmarshal(env.Data, &d) // best effort: the status alone classifies
	}
	switch env.Status {
	case 2:
		e.Kind = KindBadCredentials
	case 4:
		switch {
		case d.Step != nil:
			e.Kind = KindStepRequired
			e.Step = upstream.Clean(d.Step.Type)
		case op == opLogin:
			e.Kind = KindStepRequired
		default:
			e.Kind = KindPatientNotFound
		}
	case 429:
		e.Kind = KindLocked
		if e.Message == "" {
			e.Message = upstream.Clean(d.Message)
		}
		if d.Data != nil && d.Data.Lockout > 0 {
			e.RetryAfter = min(time.Duration(d.Data.Lockout)*time.Second, MaxRetryAfter)
		}
		if ra := c.retryAfter(r.header); ra > 0 {
			e.RetryAfter = ra
		}
	case 911:
		e.Kind = KindMaintenance
	case 920:
		e.Kind = KindVersionTooOld
		e.MinimumVersion = upstream.Clean(d.MinimumVersion)
	default:
		e.Kind = KindUnexpected
	}
	return e
}

func errMsg(env *envelope) string {
	if env.Error != nil {
		return env.Error.Message
	}
	return ""
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isHTML reports whether a body is a web page rather than JSON.
func isHTML(r *reply) bool {
	ct := strings.ToLower(r.header.Get("Content-Type"))
	if strings.Contains(ct, "text/html") {
		return true
	}
	b := bytes.TrimLeft(r.body, " \t\r\n\ufeff")
	return len(b) > 0 && b[0] == '<'
}

// htmlTitle returns the title of an HTML page, cleaned, or "HTML page".
func htmlTitle(body []byte) string {
	low := bytes.ToLower(body)
	i := bytes.Index(low, []byte("<title"))
	if i >= 0 {
		if j := bytes.IndexByte(low[i:], '>'); j >= 0 {
			rest := body[i+j+1:]
			if k := bytes.Index(bytes.ToLower(rest), []byte("</title")); k >= 0 {
				if t := upstream.Clean(string(rest[:k])); t != "" {
					return t
				}
			}
		}
	}
	return "HTML page"
}

// retryAfter reads a reply's Retry-After (upstream.RetryAfter), capped at
// MaxRetryAfter.
func (c *Client) retryAfter(h http.Header) time.Duration {
	return upstream.RetryAfter(h.Get("Retry-After"), c.now(), MaxRetryAfter)
}
