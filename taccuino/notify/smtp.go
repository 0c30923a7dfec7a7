package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// TLS modes of an SMTP connection (the tls parameter of the URL).
const (
	// TLSOpportunistic: STARTTLS when the server offers it (the default
	// for smtp://). Credentials are sent only over TLS or to a loopback
	// server (net/smtp.PlainAuth refuses otherwise).
	TLSOpportunistic = "opportunistic"
	// TLSRequired: STARTTLS, or fail.
	TLSRequired = "required"
	// TLSNone: never STARTTLS (a relay on the same host, the development
	// receiver).
	TLSNone = "none"
	// TLSImplicit: TLS from the first byte (smtps://, port 465, RFC 8314).
	TLSImplicit = "implicit"
)

// SMTPConfig says how to reach the mail server. Build it with
// ParseSMTPURL.
type SMTPConfig struct {
	// Addr is host:port.
	Addr string
	// Username and Password authenticate with AUTH PLAIN (RFC 4616) when
	// Username is set.
	Username, Password string
	// TLS is one of the TLS* modes.
	TLS string
	// From is the envelope and header sender.
	From string
	// HelloName is the name given in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one whole SMTP conversation (default 30 seconds).
	Timeout time.Duration
	// TLSConfig overrides the TLS client configuration (tests: a private
	// root); nil verifies the server's name against the system roots.
	TLSConfig *tls.Config
}

// ParseSMTPURL reads FSECGM_SMTP_URL: smtp://[user:password@]host[:port]
// (port 587 by default; STARTTLS when offered, or as ?tls=required or
// ?tls=none says) or smtps://[user:password@]host[:port] (implicit TLS,
// port 465). ?from=address sets the sender (else from). Errors never
// repeat the password.
func ParseSMTPURL(raw, from string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		return c, fmt.Errorf("%w: SMTP URL: not a URL such as smtp://user:password@host:587", ErrInvalid)
	}
	port := ""
	switch u.Scheme {
	case "smtp":
		c.TLS, port = TLSOpportunistic, "587"
	case "smtps":
		c.TLS, port = TLSImplicit, "465"
	default:
		return c, fmt.Errorf("%w: SMTP URL: scheme %q: want smtp or smtps", ErrInvalid, u.Scheme)
	}
	if u.Hostname() == "" {
		return c, fmt.Errorf("%w: SMTP URL: no host", ErrInvalid)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	c.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	if t := q.Get("tls"); t != "" {
		switch {
		case c.TLS == TLSImplicit:
			return c, fmt.Errorf("%w: SMTP URL: tls=%s with smtps (always TLS)", ErrInvalid, t)
		case t == TLSOpportunistic || t == TLSRequired || t == TLSNone:
			c.TLS = t
		default:
			return c, fmt.Errorf("%w: SMTP URL: tls=%q: want opportunistic, required or none", ErrInvalid, t)
		}
	}
	c.From = from
	if f := q.Get("from"); f != "" {
		c.From = f
	}
	if c.From, err = NormalizeEmail(c.From); err != nil {
		return c, fmt.Errorf("%w: SMTP sender (from): %q is not an e-mail address", ErrInvalid, c.From)
	}
	if c.Username != "" && c.TLS == TLSNone && !loopback(u.Hostname()) {
		return c, fmt.Errorf("%w: SMTP URL: credentials over a connection without TLS to %s: use tls=required", ErrInvalid, u.Hostname())
	}
	return c, nil
}

// Redacted returns the configuration as a URL without the password, for
// logs.
func (c SMTPConfig) Redacted() string {
	scheme := "smtp"
	if c.TLS == TLSImplicit {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: c.Addr}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	if c.TLS != TLSImplicit && c.TLS != TLSOpportunistic {
		u.RawQuery = "tls=" + c.TLS
	}
	return u.String()
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Stage is the step of an SMTP conversation an error happened at.
type Stage string

// The stages.
const (
	StageConnect Stage = "connect" // dial, greeting, EHLO, STARTTLS
	StageAuth    Stage = "auth"
	StageMail    Stage = "mail"
	StageRcpt    Stage = "rcpt"
	StageData    Stage = "data" // DATA and the message
	StageEnd     Stage = "end"  // the end of DATA: the server's verdict
)

// SendError is a failed send.
type SendError struct {
	Stage Stage
	// Code is the SMTP reply code, 0 when none was read (network error).
	Code int
	// Msg says what failed, without the message or the password.
	Msg string
}

// Error returns "SMTP <stage>: <code> <msg>".
func (e *SendError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("SMTP %s: %d %s", e.Stage, e.Code, e.Msg)
	}
	return fmt.Sprintf("SMTP %s: %s", e.Stage, e.Msg)
}

// Bounce reports whether the server refused the recipient or the message
// for good (5xx to RCPT or to the end of DATA, RFC 5321 §4.2.1): the
// address must be confirmed again. 5xx at other stages are the operator's
// (sender, authentication, configuration) and are retried.
func (e *SendError) Bounce() bool {
	return e.Code >= 500 && e.Code < 600 && (e.Stage == StageRcpt || e.Stage == StageEnd)
}

// Uncertain reports whether the server may have accepted the message:
// the end of DATA was sent but no reply was read.
func (e *SendError) Uncertain() bool { return e.Stage == StageEnd && e.Code == 0 }

// Mailer sends one message to one recipient.
type Mailer interface {
	// Send sends raw (an RFC 5322 message, CRLF line ends) from the
	// configured sender to to. beforeEnd, when not nil, is called after
	// the whole message was written and before the end of DATA is sent:
	// an error from it abandons the message (the connection is closed
	// without ending DATA, so the server discards it). Errors are
	// *SendError, or beforeEnd's.
	Send(ctx context.Context, to string, raw []byte, beforeEnd func() error) error
	// From is the sender address.
	From() string
}

// SMTPMailer is a Mailer speaking SMTP (net/smtp) to one server.
type SMTPMailer struct {
	c SMTPConfig
}

// NewSMTPMailer returns a mailer for c.
func NewSMTPMailer(c SMTPConfig) *SMTPMailer {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.HelloName == "" {
		c.HelloName = "localhost"
	}
	return &SMTPMailer{c: c}
}

// From returns the sender address.
func (m *SMTPMailer) From() string { return m.c.From }

// Send implements Mailer.
func (m *SMTPMailer) Send(ctx context.Context, to string, raw []byte, beforeEnd func() error) (err error) {
	deadline := time.Now().Add(m.c.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	host, _, _ := net.SplitHostPort(m.c.Addr)
	tlsConf := m.c.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := net.Dialer{Deadline: deadline}
	var conn net.Conn
	if m.c.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConf}).DialContext(ctx, "tcp", m.c.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", m.c.Addr)
	}
	if err != nil {
		return &SendError{Stage: StageConnect, Msg: err.Error()}
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fail(StageConnect, err)
	}
	defer c.Close()
	if err := c.Hello(m.c.HelloName); err != nil {
		return fail(StageConnect, err)
	}
	if m.c.TLS == TLSRequired || m.c.TLS == TLSOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return fail(StageConnect, err)
			}
		} else if m.c.TLS == TLSRequired {
			return &SendError{Stage: StageConnect, Msg: "the server does not offer STARTTLS (tls=required)"}
		}
	}
	if m.c.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.c.Username, m.c.Password, host)); err != nil {
			return fail(StageAuth, err)
		}
	}
	if err := c.Mail(m.c.From); err != nil {
		return fail(StageMail, err)
	}
	if err := c.Rcpt(to); err != nil {
		return fail(StageRcpt, err)
	}
	w, err := c.Data()
	if err != nil {
		return fail(StageData, err)
	}
	if _, err := w.Write(raw); err != nil {
		return fail(StageData, err)
	}
	if beforeEnd != nil {
		if err := beforeEnd(); err != nil {
			return err // the deferred Close drops the connection: DATA never ends
		}
	}
	if err := w.Close(); err != nil {
		return fail(StageEnd, err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// fail turns a net/smtp error into a *SendError.
func fail(st Stage, err error) *SendError {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &SendError{Stage: st, Code: te.Code, Msg: clip(te.Msg, 300)}
	}
	return &SendError{Stage: st, Msg: clip(err.Error(), 300)}
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// domainOf returns the domain of an address (for Message-IDs).
func domainOf(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[at+1:]
	}
	return "localhost"
}
