// Package mailtest is an in-process SMTP receiver for tests and for
// 'fsecgm serve --dev': a real SMTP server (github.com/emersion/go-smtp,
// RFC 5321 on the wire, STARTTLS and AUTH PLAIN when configured) that
// keeps what it receives in memory, and can refuse recipients the way a
// real server does (a 5xx or 4xx reply to RCPT or to the end of DATA).
package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is a received message.
type Message struct {
	// From and To are the envelope (MAIL FROM, RCPT TO).
	From string
	To   []string
	// Data is the message as received (headers and body).
	Data     []byte
	Received time.Time
	// Subject (decoded), MessageID, Date and Body (decoded from
	// quoted-printable) are read from Data.
	Subject, MessageID, Date, Body string
}

// Options configure a Server. The zero value listens on a free loopback
// port, without TLS or authentication, and keeps every message.
type Options struct {
	// Addr is the listen address (default 127.0.0.1:0).
	Addr string
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// TLS, when set, offers STARTTLS with it.
	TLS *tls.Config
	// Keep bounds the messages kept, the oldest dropped first (0: all).
	Keep int
}

// Server is a running receiver.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	opts Options

	mu       sync.Mutex
	msgs     []Message
	refuse   map[string]int // recipient → reply code to RCPT
	endCodes []int          // reply codes for the next ends of DATA
	dropNext int            // connections to drop after the end of DATA, before replying
	notify   chan struct{}
}

// Start starts a receiver.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mailtest: listen: %w", err)
	}
	s := &Server{ln: ln, opts: o, refuse: map[string]int{}, notify: make(chan struct{})}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "mailtest.localhost"
	s.srv.TLSConfig = o.TLS
	s.srv.AllowInsecureAuth = o.TLS == nil
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 4 << 20
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the host:port the receiver listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the FSECGM_SMTP_URL of the receiver.
func (s *Server) URL() string {
	u := "smtp://"
	if s.opts.Username != "" {
		u += s.opts.Username + ":" + s.opts.Password + "@"
	}
	return u + s.Addr()
}

// Close stops the receiver.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns the received messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until n messages were received, or timeout; it returns the
// messages received.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			s.mu.Unlock()
			return s.Messages()
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return s.Messages()
		}
	}
}

// Refuse makes RCPT TO:<to> answer code (e.g. 550: no such mailbox, for
// good; 450: try later); 0 accepts it again.
func (s *Server) Refuse(to string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refuse, strings.ToLower(to))
		return
	}
	s.refuse[strings.ToLower(to)] = code
}

// FailEnds makes the next ends of DATA answer the codes given, in order,
// after reading the message (nothing is kept).
func (s *Server) FailEnds(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endCodes = append(s.endCodes, codes...)
}

// DropAfterData makes the next n ends of DATA keep the message and then
// close the connection without replying: the client cannot know it was
// accepted.
func (s *Server) DropAfterData(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

type session struct {
	s     *Server
	conn  *smtp.Conn
	authd bool
	from  string
	to    []string
}

var errAuth = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.opts.Username || pass != x.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		x.authd = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && !x.authd {
		return errAuth
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	code := x.s.refuse[strings.ToLower(to)]
	x.s.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox unavailable"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if len(x.s.endCodes) > 0 {
		code := x.s.endCodes[0]
		x.s.endCodes = x.s.endCodes[1:]
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "refused by the test"}
	}
	m := parse(Message{From: x.from, To: append([]string(nil), x.to...), Data: b, Received: time.Now()})
	x.s.msgs = append(x.s.msgs, m)
	if k := x.s.opts.Keep; k > 0 && len(x.s.msgs) > k {
		x.s.msgs = x.s.msgs[len(x.s.msgs)-k:]
	}
	close(x.s.notify)
	x.s.notify = make(chan struct{})
	if x.s.dropNext > 0 {
		x.s.dropNext--
		_ = x.conn.Conn().Close() // kept, but no reply
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// parse fills the decoded fields of m from m.Data.
func parse(m Message) Message {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		m.Body = string(m.Data)
		return m
	}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	m.MessageID, m.Date = msg.Header.Get("Message-ID"), msg.Header.Get("Date")
	var body []byte
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body, err = io.ReadAll(quotedprintable.NewReader(msg.Body))
	} else {
		body, err = io.ReadAll(msg.Body)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		body = m.Data
	}
	m.Body = strings.ReplaceAll(string(body), "\r\n", "\n")
	return m
}
