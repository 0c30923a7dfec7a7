// Package dexcom is a client of the official Dexcom API v3
// (developer.dexcom.com): the OAuth 2.0 authorization code flow with the
// patient's consent, token refresh, and the user's estimated glucose
// values (egvs), data range (dataRange) and devices (devices).
//
// # Hosts
//
// Production: https://api.dexcom.com (United States), https://api.dexcom.eu
// (outside the United States), https://api.dexcom.jp (Japan); sandbox:
// https://sandbox-api.dexcom.com, whose users are chosen from a list
// instead of logging in (developer.dexcom.com, "Endpoint Overview",
// "Authentication").
//
// # Authorization
//
// The patient is sent to {host}/v2/oauth2/login with client_id,
// redirect_uri, response_type=code, scope=offline_access and state, logs
// in at Dexcom and consents; Dexcom sends the browser back to redirect_uri
// with code and state (or error=access_denied). The code is exchanged at
// {host}/v2/oauth2/token (form-encoded client_id, client_secret, code,
// grant_type=authorization_code, redirect_uri) for an access token
// (expires_in 7200 seconds) and a refresh token; grant_type=refresh_token
// gives a new pair, and the refresh token given is not to be used again
// (developer.dexcom.com, "Authentication"). The client also sends a PKCE
// challenge (RFC 7636, S256) and its verifier at the exchange: Dexcom's
// documentation does not name PKCE, and an authorization server ignores
// the request parameters it does not know (RFC 6749 §3.1), so the
// verifier protects the code wherever the server checks it. Token errors
// are RFC 6749 §5.2 bodies ({"error":"invalid_grant", …}).
//
// # Data
//
// GET {host}/v3/users/self/egvs?startDate=…&endDate=… (UTC, "2006-01-02T15:04:05",
// at most 30 days per request) answers {"recordType":"egv",
// "recordVersion":"3.0","userId":…,"records":[…]} where each record has
// recordId, systemTime (UTC; with an offset when it comes from the iOS or
// Android app, without one from a receiver), displayTime, transmitterId,
// transmitterTicks, value (mg/dL or mmol/L as unit says; null when status
// is low or high), status (unknown, high, low, ok), trend (none, unknown,
// doubleUp … doubleDown, notComputable, rateOutOfRange), trendRate,
// rateUnit, displayDevice and transmitterGeneration (g4 … g7, dexcomPro)
// (developer.dexcom.com, getEstimatedGlucoseValuesV3). GET
// /v3/users/self/dataRange gives the first and last record of each kind
// (calibrations, egvs, events: start and end, each with systemTime and
// displayTime); GET /v3/users/self/devices the receivers and apps with
// their transmitter, generation and last upload (getDevicesV3).
//
// Requests are limited to 60,000 an hour per application; beyond, HTTP 429
// (developer.dexcom.com, "Endpoint Overview", "Request Rate Limits").
//
// Every failure is an [*Error] of a [Kind] with what to do about it
// ([Kind.Action], [Error.Advice]); no token, secret or glucose value
// appears in an error or a log line.
package dexcom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The API's hosts (developer.dexcom.com, "Endpoint Overview").
const (
	SandboxURL = "https://sandbox-api.dexcom.com"
	USURL      = "https://api.dexcom.com"
	EUURL      = "https://api.dexcom.eu"
	JPURL      = "https://api.dexcom.jp"
)

// HostURL returns the base URL of an environment: "sandbox", "us", "eu"
// (the default for Italy) or "jp".
func HostURL(env string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(env)) {
	case "sandbox":
		return SandboxURL, true
	case "us":
		return USURL, true
	case "eu", "":
		return EUURL, true
	case "jp":
		return JPURL, true
	}
	return "", false
}

// Limits of the API.
const (
	// MaxWindow is the longest time window of one egvs request.
	MaxWindow = 30 * 24 * time.Hour
	// RequestsPerHour is the documented limit of one application.
	RequestsPerHour = 60000
	// DefaultTimeout bounds one request.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds a reply body.
	DefaultMaxBodyBytes = 16 << 20
	// TimeLayout is the layout of startDate and endDate.
	TimeLayout = "2006-01-02T15:04:05"
)

// Config configures a [Client].
type Config struct {
	// BaseURL is the API's host (SandboxURL, USURL, EUURL, JPURL, or a
	// fake's URL); EUURL by default.
	BaseURL string
	// ClientID and ClientSecret are the application's credentials;
	// RedirectURI the redirect URI registered with them.
	ClientID, ClientSecret, RedirectURI string
	// HTTPClient does the requests (default: DefaultTimeout, no
	// redirects followed).
	HTTPClient *http.Client
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Logger receives one debug line per request (never a token or a
	// value). Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds a reply body (DefaultMaxBodyBytes).
	MaxBodyBytes int64
}

// Client is a Dexcom API client, safe for concurrent use; one serves every
// patient.
type Client struct {
	base                         string
	clientID, secret, redirectTo string
	hc                           *http.Client
	now                          func() time.Time
	log                          *slog.Logger
	maxBody                      int64
}

// NewHTTPClient returns the default HTTP client: the given timeout, and no
// HTTP redirect followed (a token must never follow one).
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	c := &Client{base: strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/"), clientID: cfg.ClientID,
		secret: cfg.ClientSecret, redirectTo: cfg.RedirectURI, hc: cfg.HTTPClient, now: cfg.Now, log: cfg.Logger,
		maxBody: cfg.MaxBodyBytes}
	if c.base == "" {
		c.base = EUURL
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("dexcom: base URL %q: want https://host", cfg.BaseURL)
	}
	if c.clientID == "" || c.secret == "" {
		return nil, errors.New("dexcom: the client id and secret are required")
	}
	if u, err := url.Parse(c.redirectTo); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("dexcom: redirect URI %q: want the absolute URL registered with the application", cfg.RedirectURI)
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
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// BaseURL returns the API's host.
func (c *Client) BaseURL() string { return c.base }

// reply is an answer read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request and reads the whole answer.
func (c *Client) send(ctx context.Context, op, method, u string, form url.Values, bearer string) (*reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("dexcom: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fsecgm")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1)); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode, Message: "body cut short", Err: err}
		}
		return nil, c.transportError(ctx, op, err)
	}
	if int64(buf.Len()) > c.maxBody {
		return nil, &Error{Kind: KindMalformedJSON, Op: op, HTTPStatus: resp.StatusCode, Message: fmt.Sprintf("body larger than %d bytes", c.maxBody)}
	}
	c.log.Debug("dexcom: request", "op", op, "status", resp.StatusCode, "bytes", buf.Len(), "elapsed", c.now().Sub(start))
	return &reply{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}, nil
}

// transportError classifies a failure to get an answer.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("dexcom: %s: %w", op, ctx.Err())
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Kind: KindTimeout, Op: op, Err: err}
	}
	return &Error{Kind: KindNetwork, Op: op, Err: err}
}
