// Package nssite is a client of a Nightscout site (cgm-remote-monitor),
// for pulling a patient's glucose entries on a schedule; the entries are
// read by package nightscout's parser.
//
// API v1 (cgm-remote-monitor, lib/server/swagger.yaml): GET
// {site}/api/v1/entries.json with find[date][$gt] / find[date][$lt]
// (epoch milliseconds) and count, newest first; GET
// {site}/api/v1/status.json. Reads are authorized by the header
// api-secret holding the SHA-1 of the site's API_SECRET in hex (the site
// compares it with the hash it keeps: lib/authorization), or by an access
// token in the token query parameter (a token the site's admin creates
// for a subject with the readable role).
//
// API v3 (lib/api3): GET {site}/api/v3/entries with filters such as
// date$gt, sort and limit, answering {"status":200,"result":[…]}; it is
// authorized by a JWT that GET {site}/api/v2/authorization/request/{token}
// issues for an access token (valid an hour), sent as Bearer.
package nssite

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
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
	"time"

	"fsecgm/connectors/nightscout"
)

// APIv1 and APIv3 name the API a site is read through.
const (
	APIv1 = "v1"
	APIv3 = "v3"
)

// Site is a Nightscout site and how to read it. Secret and Token are
// secrets: never log them.
type Site struct {
	// URL is the site's base URL (https://host or https://host/path).
	URL string `json:"url"`
	// APISecret is the site's API_SECRET (its SHA-1 is sent); Token an
	// access token. One is enough for API v1; API v3 needs Token.
	APISecret string `json:"api_secret,omitempty"`
	Token     string `json:"token,omitempty"`
	// API is APIv1 (default) or APIv3.
	API string `json:"api,omitempty"`
}

// LogValue keeps the secrets out of logs.
func (s Site) LogValue() slog.Value { return slog.StringValue(s.Key()) }

// NormalizeURL checks and normalizes a site's base URL: http(s), a host,
// no user info, query or fragment, no trailing slash, and without a
// trailing /api/v1 (people paste the uploader's URL). http is allowed only
// for loopback hosts (tests); sites answer over https.
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("want the site's address, such as https://example.herokuapp.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("the address must not hold a secret, a query or a fragment: give the secret apart")
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", errors.New("the address must start with https://")
		}
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v1")
	p = strings.TrimRight(p, "/")
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + p, nil
}

// Key is the site's identity among connections: its normalized URL.
func (s Site) Key() string {
	if n, err := NormalizeURL(s.URL); err == nil {
		return n
	}
	return s.URL
}

// HashSecret returns the value of the api-secret header for an
// API_SECRET: its SHA-1 in hex, as Nightscout and its uploaders compute it.
func HashSecret(secret string) string {
	sum := sha1.Sum([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ErrorKind classifies a failed call to a site.
type ErrorKind uint8

// The kinds of failure.
const (
	// KindUnauthorized: 401 or 403: the secret or token is wrong, or lacks
	// the readable role. Retrying cannot help: wait for new ones.
	KindUnauthorized ErrorKind = iota + 1
	// KindNotFound: 404: not a Nightscout site, or the address is wrong.
	KindNotFound
	// KindHTMLPage: a web page instead of JSON (the host's error page, a
	// site asleep).
	KindHTMLPage
	KindRateLimited
	KindServerError
	KindTimeout
	KindNetwork
	KindMalformedJSON
	KindUnexpected
)

var errorKindNames = [...]string{
	KindUnauthorized: "unauthorized", KindNotFound: "not found", KindHTMLPage: "HTML page instead of JSON",
	KindRateLimited: "rate limited", KindServerError: "server error", KindTimeout: "timeout", KindNetwork: "network error",
	KindMalformedJSON: "malformed JSON", KindUnexpected: "unexpected answer",
}

func (k ErrorKind) String() string {
	if int(k) < len(errorKindNames) && errorKindNames[k] != "" {
		return errorKindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// SiteError is a failed call to a site. It never holds a secret.
type SiteError struct {
	Kind       ErrorKind
	Op         string // "status", "entries", "authorization"
	HTTPStatus int
	RetryAfter time.Duration
	Message    string
	Err        error
}

func (e *SiteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nightscout: %s: %s", e.Op, e.Kind)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *SiteError) Unwrap() error { return e.Err }

// KindOfError returns the kind of a *SiteError in err's chain; 0 when none.
func KindOfError(err error) ErrorKind {
	var e *SiteError
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// ClientConfig configures a [Client].
type ClientConfig struct {
	// HTTPClient does the requests (default: 30 s, no redirect followed).
	HTTPClient *http.Client
	// PageSize is how many entries one request asks for (1,000).
	PageSize int
	// MaxPages bounds the requests of one Entries call (50).
	MaxPages int
	Logger   *slog.Logger
}

// Client reads Nightscout sites. It is safe for concurrent use.
type Client struct {
	hc       *http.Client
	pageSize int
	maxPages int
	log      *slog.Logger
}

// NewHTTPClient returns the default HTTP client of a Client.
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{Timeout: timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// NewClient returns a client.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{hc: cfg.HTTPClient, pageSize: cfg.PageSize, maxPages: cfg.MaxPages, log: cfg.Logger}
	if c.hc == nil {
		c.hc = NewHTTPClient(30 * time.Second)
	}
	if c.pageSize <= 0 {
		c.pageSize = 1000
	}
	if c.maxPages <= 0 {
		c.maxPages = 50
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// get makes one GET and reads the answer (at most nightscout.MaxBytes).
func (c *Client) get(ctx context.Context, op, u string, header http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("nightscout: %s: %w", op, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fsecgm")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return 0, nil, nil, fmt.Errorf("nightscout: %s: %w", op, ctx.Err())
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return 0, nil, nil, &SiteError{Kind: KindTimeout, Op: op, Err: err}
		}
		return 0, nil, nil, &SiteError{Kind: KindNetwork, Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, nightscout.MaxBytes+1))
	if err != nil {
		return resp.StatusCode, nil, nil, &SiteError{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode, Message: "body cut short", Err: err}
	}
	if len(body) > nightscout.MaxBytes {
		return resp.StatusCode, nil, nil, &SiteError{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode, Message: "body too large"}
	}
	c.log.Debug("nightscout: request", "op", op, "status", resp.StatusCode, "bytes", len(body))
	if e := check(op, resp.StatusCode, resp.Header, body); e != nil {
		return resp.StatusCode, nil, nil, e
	}
	return resp.StatusCode, resp.Header, body, nil
}

// check classifies an answer; nil for a 2xx JSON one.
func check(op string, status int, h http.Header, body []byte) *SiteError {
	html := strings.Contains(strings.ToLower(h.Get("Content-Type")), "text/html") ||
		bytes.HasPrefix(bytes.TrimSpace(body), []byte("<"))
	e := &SiteError{Op: op, HTTPStatus: status}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindUnauthorized
	case status == http.StatusNotFound:
		e.Kind = KindNotFound
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 {
			e.RetryAfter = min(time.Duration(n)*time.Second, 6*time.Hour)
		}
	case status >= 500:
		e.Kind = KindServerError
	case html:
		e.Kind = KindHTMLPage
	case status >= 200 && status < 300:
		return nil
	default:
		e.Kind = KindUnexpected
	}
	return e
}

// Status is what GET /api/v1/status.json says of a site.
type Status struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Units   string `json:"-"`
}

// auth returns the headers and query of an API v1 read.
func (c *Client) auth(site Site) (http.Header, url.Values) {
	h, q := http.Header{}, url.Values{}
	if site.APISecret != "" {
		h.Set("api-secret", HashSecret(site.APISecret))
	}
	if site.Token != "" {
		q.Set("token", site.Token)
	}
	return h, q
}

// Status reads a site's status: the way to check an address and a secret
// before storing them.
func (c *Client) Status(ctx context.Context, site Site) (*Status, error) {
	base, err := NormalizeURL(site.URL)
	if err != nil {
		return nil, &SiteError{Kind: KindNotFound, Op: "status", Message: err.Error()}
	}
	h, q := c.auth(site)
	u := base + "/api/v1/status.json"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	_, _, body, err := c.get(ctx, "status", u, h)
	if err != nil {
		return nil, err
	}
	var w struct {
		Status   string `json:"status"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Settings struct {
			Units string `json:"units"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(body, &w); err != nil || w.Version == "" {
		return nil, &SiteError{Kind: KindMalformedJSON, Op: "status", Message: "not a Nightscout status"}
	}
	return &Status{Name: w.Name, Version: w.Version, Units: w.Settings.Units}, nil
}

// Entries returns the site's glucose entries (sgv and mbg) after since,
// through the site's API, paging until the site has no more; at most
// MaxPages pages, and the bool is true when the last one was full (more
// remain for the next call).
func (c *Client) Entries(ctx context.Context, site Site, since time.Time) (*nightscout.File, bool, error) {
	base, err := NormalizeURL(site.URL)
	if err != nil {
		return nil, false, &SiteError{Kind: KindNotFound, Op: "entries", Message: err.Error()}
	}
	if site.API == APIv3 {
		return c.entriesV3(ctx, base, site, since)
	}
	h, q := c.auth(site)
	out := &nightscout.File{}
	var before int64 // page backwards: the oldest date of the last page
	for page := 0; page < c.maxPages; page++ {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("find[date][$gt]", strconv.FormatInt(since.UnixMilli(), 10))
		if before > 0 {
			pq.Set("find[date][$lt]", strconv.FormatInt(before, 10))
		}
		pq.Set("count", strconv.Itoa(c.pageSize))
		_, _, body, err := c.get(ctx, "entries", base+"/api/v1/entries.json?"+pq.Encode(), h)
		if err != nil {
			return nil, false, err
		}
		f, err := nightscout.Parse(bytes.NewReader(body), "entries.json")
		if err != nil {
			return nil, false, &SiteError{Kind: KindMalformedJSON, Op: "entries", Message: err.Error()}
		}
		merge(out, f)
		if f.Entries < c.pageSize {
			return out, false, nil
		}
		oldest := oldestMillis(body)
		if oldest <= 0 || (before > 0 && oldest >= before) {
			return out, false, nil
		}
		before = oldest
	}
	return out, true, nil
}

// entriesV3 pages forwards through API v3, with a JWT for the token.
func (c *Client) entriesV3(ctx context.Context, base string, site Site, since time.Time) (*nightscout.File, bool, error) {
	if site.Token == "" {
		return nil, false, &SiteError{Kind: KindUnauthorized, Op: "authorization", Message: "API v3 needs an access token"}
	}
	_, _, body, err := c.get(ctx, "authorization", base+"/api/v2/authorization/request/"+url.PathEscape(site.Token), nil)
	if err != nil {
		return nil, false, err
	}
	var jwt struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &jwt); err != nil || jwt.Token == "" {
		return nil, false, &SiteError{Kind: KindMalformedJSON, Op: "authorization", Message: "no token in the answer"}
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+jwt.Token)
	out := &nightscout.File{}
	after := since.UnixMilli()
	for page := 0; page < c.maxPages; page++ {
		q := url.Values{}
		q.Set("date$gt", strconv.FormatInt(after, 10))
		q.Set("sort", "date")
		q.Set("limit", strconv.Itoa(c.pageSize))
		_, _, body, err := c.get(ctx, "entries", base+"/api/v3/entries?"+q.Encode(), h)
		if err != nil {
			return nil, false, err
		}
		f, err := nightscout.Parse(bytes.NewReader(body), "entries")
		if err != nil {
			return nil, false, &SiteError{Kind: KindMalformedJSON, Op: "entries", Message: err.Error()}
		}
		merge(out, f)
		if f.Entries < c.pageSize {
			return out, false, nil
		}
		newest := newestMillis(body)
		if newest <= after {
			return out, false, nil
		}
		after = newest
	}
	return out, true, nil
}

func merge(out, f *nightscout.File) {
	out.Readings = append(out.Readings, f.Readings...)
	out.Lines = append(out.Lines, f.Lines...)
	out.Skipped += f.Skipped
	out.Rejected = append(out.Rejected, f.Rejected...)
	out.Entries += f.Entries
}

// entryDates returns the date members of an entries answer (v1 array or v3
// result).
func entryDates(body []byte) []int64 {
	var v1 []struct {
		Date json.RawMessage `json:"date"`
	}
	if err := json.Unmarshal(body, &v1); err != nil {
		var v3 struct {
			Result []struct {
				Date json.RawMessage `json:"date"`
			} `json:"result"`
		}
		if json.Unmarshal(body, &v3) != nil {
			return nil
		}
		v1 = v3.Result
	}
	out := make([]int64, 0, len(v1))
	for _, e := range v1 {
		if ms, err := strconv.ParseFloat(strings.Trim(string(e.Date), `"`), 64); err == nil && ms > 0 {
			out = append(out, int64(ms))
		}
	}
	return out
}

func oldestMillis(body []byte) int64 {
	var m int64
	for i, d := range entryDates(body) {
		if i == 0 || d < m {
			m = d
		}
	}
	return m
}

func newestMillis(body []byte) int64 {
	var m int64
	for _, d := range entryDates(body) {
		m = max(m, d)
	}
	return m
}
