package taccuino

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/notify"

	"github.com/chromedp/chromedp"
)

// TestBrowserNotifications: Mario sets his notification address on his
// page, opens the link of the confirmation e-mail, his GP reads his data,
// and the notification arrives in the development mailbox (/dev/mail).
// Screenshots: the settings block, the confirmation page, /dev/mail and
// the message.
func TestBrowserNotifications(t *testing.T) {
	t.Parallel()
	b, e := newBrowser(t)
	b.login("patient")
	page := strings.TrimPrefix(mustLocation(t, b), b.base)
	b.do("set the address", chromedp.SetValue(chromedp.ID("ntf-email"), "mario.rossi@example.org"))
	b.submit("#ntf-save")
	if got := b.text("#msg"); !strings.Contains(got, "Ti abbiamo inviato un'e-mail") {
		t.Fatalf("after saving: %q", got)
	}
	if got := b.text("#ntf-state"); !strings.Contains(got, "In attesa di conferma: m***@e***.org") {
		t.Errorf("state: %q", got)
	}
	b.screenshot("notifications-pending-desktop", 1280, 900, "notifications")
	ms := e.mail.Wait(1, 10*time.Second)
	if len(ms) != 1 {
		t.Fatalf("%d confirmation e-mails", len(ms))
	}
	link := regexp.MustCompile(`/notifications/confirm\?token=[A-Za-z0-9_-]+&lang=it`).FindString(ms[0].Body)
	if link == "" {
		t.Fatalf("no link in %q", ms[0].Body)
	}
	b.navigate(link)
	if got := b.text("#confirm-result"); !strings.Contains(got, "Indirizzo confermato") {
		t.Fatalf("confirmation page: %q", got)
	}
	b.screenshot("notifications-confirmed-phone", 390, 844)

	// The GP opens Mario's page: one access, told within the minute.
	b.logout()
	b.login("mmg")
	b.navigate(page)
	b.logout()
	// Compose and send as the service's jobs would, a minute later.
	later := func() time.Time { return time.Now().Add(2 * time.Minute) }
	st := notify.New(e.pool, consent.New(e.pool, consent.Options{}), notify.Options{Now: later})
	comp, err := notify.NewComposer(st, notify.ComposerOptions{BaseURL: "http://localhost:8080", From: e.notify.Mailer.From(), DigestHour: 8})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := comp.ComposeDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("compose: %d %v", n, err)
	}
	sender, err := notify.NewSender(st, e.notify.Mailer, notify.SenderOptions{Replica: "browser", Timeout: 5 * time.Second, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.navigate("/dev/mail?lang=it")
	if got := b.text("article.mail h2"); !strings.Contains(got, "Luca Verdi") {
		t.Errorf("newest message in /dev/mail: %q", got)
	}
	if got := b.text("article.mail pre"); !strings.Contains(got, "ha consultato il taccuino glicemico") {
		t.Errorf("message body: %q", got)
	}
	b.screenshot("devmail-desktop", 1280, 900)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(900, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("article.mail")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, "notification-message.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
