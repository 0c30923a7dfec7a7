package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"fsecgm/taccuino/consent"
)

// Service is what the HTTP layer uses: the settings, and the confirmation
// e-mail sent at once when an address must be confirmed.
type Service struct {
	Store  *Store
	Mailer Mailer
	// BaseURL is the service's external URL (the confirmation link).
	BaseURL string
	// Now is the clock of the e-mail's Date (time.Now when nil).
	Now func() time.Time
}

// ErrSend: the confirmation e-mail could not be sent; the change was
// withdrawn. Refused reports whether the server refused the address itself
// (SMTP 5xx to RCPT), as opposed to a failure of ours or of the network.
type SendFailure struct {
	Refused bool
	Err     error
}

// Error says what failed.
func (e *SendFailure) Error() string {
	return "notify: the confirmation e-mail could not be sent: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *SendFailure) Unwrap() error { return e.Err }

// Request changes the settings (Store.Request) and, when the address must
// be confirmed, sends the link to it before returning. When the e-mail
// cannot be sent, the change is withdrawn and the error is a
// *SendFailure; the access-log entry of the request stays.
func (v *Service) Request(ctx context.Context, a consent.Actor, patientID int64, r Request) (Change, error) {
	ch, err := v.Store.Request(ctx, a, patientID, r)
	if err != nil || ch.Token == "" {
		return ch, err
	}
	p := ch.Settings.Pending
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	link := strings.TrimSuffix(v.BaseURL, "/") + "/notifications/confirm?token=" + url.QueryEscape(ch.Token) +
		"&lang=" + string(p.Lang)
	h := header{from: v.Mailer.From(), base: v.BaseURL, date: now()}
	m := renderConfirmation(h, p.Email, p.Lang, p.Mode, link, "fsecgm.confirm."+fmt.Sprintf("%x", hashToken(ch.Token)[:12]))
	if serr := v.Mailer.Send(ctx, p.Email, m.raw, nil); serr != nil {
		werr := v.Store.Withdraw(context.WithoutCancel(ctx), patientID, ch.Token)
		var se *SendError
		refused := errors.As(serr, &se) && se.Code >= 500 && se.Stage == StageRcpt
		return Change{}, errors.Join(&SendFailure{Refused: refused, Err: serr}, werr)
	}
	ch.Token = "" // sent; nobody else needs it
	return ch, nil
}
