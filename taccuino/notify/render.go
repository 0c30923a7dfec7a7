package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"fsecgm/taccuino/locale"
)

// access is an access-log entry to tell, as the composer reads it. The
// actor's id (a fiscal code for people) is read only to tell people apart;
// it is never written in a message.
type access struct {
	id                              int64
	patientID                       int64
	at                              time.Time
	role, actorID, name, prole, org string
	basis, action, detail           string
	outcome, reason                 string
}

// actorKey tells apart the people (and services) who act, for grouping.
func (a access) actorKey() string {
	return a.role + "\x00" + a.actorID + "\x00" + a.org + "\x00" + a.prole
}

// who describes the actor: name and role (a clinician's role and
// organization, a representative's basis, a service's name); never the
// fiscal code.
func who(a access, l locale.Lang) string {
	switch a.role {
	case "":
		return l.T("ntf_who_anonymous")
	case "service":
		return l.T("ntf_who_service") + " «" + a.name + "»"
	case "operator": // the service's operator, from the command line
		return joinNonEmpty(", ", a.name, l.T("tac_role_operator"))
	case "practitioner":
		role := l.T("tac_prole_" + a.prole)
		if a.prole == "" {
			role = l.T("tac_role_practitioner")
		}
		return joinNonEmpty(", ", a.name, role, a.org)
	}
	role := l.T("ntf_who_citizen")
	if a.basis != "" {
		role = l.T("tac_basis_" + a.basis)
	}
	return joinNonEmpty(", ", a.name, role)
}

// objects maps the beginnings of data.read details (package taccuino,
// reports, fhirapi and records write them) to what was read.
var objects = []struct{ prefix, key string }{
	{"latest glucose", "ntf_obj_latest"},
	{"glucometrics", "ntf_obj_glucometrics"},
	{"daily profiles", "ntf_obj_daily"},
	{"readings", "ntf_obj_readings"},
	{"taccuino", "ntf_obj_taccuino"},
	{"AGP report", "ntf_obj_report"},
	{"FHIR", "ntf_obj_fhir"},
	{"CGM summary", "ntf_obj_summary"},
	{"clinic", "ntf_obj_clinic"},
	{"sensor connections", "ntf_obj_connections"},
	{"find patient", "ntf_obj_find"},
}

// what is the sentence of an access: "ha consultato il profilo glicemico
// dal 16/03/2026 al 29/03/2026".
func what(a access, l locale.Lang) string {
	tried := a.outcome != "allowed"
	verb := "ntf_done_"
	if tried {
		verb = "ntf_tried_"
	}
	if a.action != "data.read" {
		k := verb + a.action
		if l.T(k) == k {
			k = verb + "other"
		}
		return l.T(k)
	}
	obj := l.T("ntf_obj_data")
	for _, o := range objects {
		if strings.HasPrefix(a.detail, o.prefix) {
			obj = l.T(o.key)
			break
		}
	}
	if p := periodOf(a.detail, l); p != "" {
		obj += " " + p
	}
	return fmt.Sprintf(l.T(verb+"data.read"), obj)
}

// periodOf reads a "YYYY-MM-DD..YYYY-MM-DD" period from a detail and
// writes it for a person; "" when there is none.
func periodOf(detail string, l locale.Lang) string {
	for f := range strings.FieldsSeq(detail) {
		from, to, ok := strings.Cut(f, "..")
		if !ok {
			continue
		}
		a, err1 := time.Parse(time.DateOnly, from)
		b, err2 := time.Parse(time.DateOnly, to)
		if err1 == nil && err2 == nil {
			return fmt.Sprintf(l.T("ntf_period"), a.Format("02/01/2006"), b.Format("02/01/2006"))
		}
	}
	return ""
}

// outcome is the outcome of an access, with the reason of a refusal.
func outcome(a access, l locale.Lang) string {
	s := l.T("ntf_outcome_" + a.outcome)
	if a.outcome == "denied" && a.reason != "" {
		s += " (" + l.T("tac_reason_"+a.reason) + ")"
	}
	return s
}

// target is where a message goes and what it links to.
type target struct {
	email    string
	lang     locale.Lang
	loc      *time.Location
	publicID string
}

// rendered is a rendered message.
type rendered struct {
	subject string
	raw     []byte
}

// links returns the access log's and the settings' links.
func links(base, publicID string) (string, string) {
	p := strings.TrimSuffix(base, "/") + "/taccuino/p/" + publicID
	return p + "#access-log", p + "#notifications"
}

// renderEach renders the message of the accesses of one person in one
// minute (as, oldest first, at least one).
func renderEach(h header, t target, as []access) rendered {
	l := t.lang
	first := as[0].at.In(t.loc)
	denied := false
	for _, a := range as {
		denied = denied || a.outcome != "allowed"
	}
	w := who(as[0], l)
	subject := fmt.Sprintf(l.T("ntf_subject_each"), w)
	if denied {
		subject = fmt.Sprintf(l.T("ntf_subject_denied"), w)
	}
	var b strings.Builder
	b.WriteString(l.T("ntf_hello") + "\n\n")
	fmt.Fprintf(&b, l.T("ntf_intro_each")+"\n\n", first.Format("02/01/2006"), first.Format("15:04"), first.Format("MST"))
	fmt.Fprintf(&b, "%s: %s\n", l.T("ntf_who"), w)
	fmt.Fprintf(&b, "%s: %s, %s (%s)\n", l.T("ntf_when"), first.Format("02/01/2006"), first.Format("15:04"), t.loc.String())
	fmt.Fprintf(&b, "%s:\n", l.T("ntf_what"))
	for _, a := range as {
		fmt.Fprintf(&b, "  • %s — %s — %s\n", a.at.In(t.loc).Format("15:04:05"), what(a, l), outcome(a, l))
	}
	footer(&b, h.base, t, l)
	return rendered{subject: subject, raw: h.build(t, subject, b.String())}
}

// renderDaily renders the digest of one local day (as, oldest first).
func renderDaily(h header, t target, day time.Time, as []access) rendered {
	l := t.lang
	date := l.T(fmt.Sprintf("ntf_weekday_%d", int(day.Weekday()))) + " " + day.Format("02/01/2006")
	subject := fmt.Sprintf(l.T("ntf_subject_daily"), day.Format("02/01/2006"), len(as))
	var b strings.Builder
	b.WriteString(l.T("ntf_hello") + "\n\n")
	fmt.Fprintf(&b, l.T("ntf_intro_daily")+"\n\n", date, t.loc.String(), len(as))
	for _, a := range as {
		at := a.at.In(t.loc)
		stamp := at.Format("15:04:05")
		if y, m, d := at.Date(); y != day.Year() || m != day.Month() || d != day.Day() {
			stamp = at.Format("02/01/2006 15:04:05") // an access committed after its day's digest
		}
		fmt.Fprintf(&b, "  • %s %s — %s — %s — %s\n", stamp, at.Format("MST"), who(a, l), what(a, l), outcome(a, l))
	}
	footer(&b, h.base, t, l)
	return rendered{subject: subject, raw: h.build(t, subject, b.String())}
}

func footer(b *strings.Builder, base string, t target, l locale.Lang) {
	logURL, settingsURL := links(base, t.publicID)
	fmt.Fprintf(b, "\n%s\n\n%s: %s\n\n-- \n%s: %s\n", l.T("ntf_unknown"), l.T("ntf_log_link"), logURL, l.T("ntf_footer"), settingsURL)
}

// renderConfirmation renders the e-mail with the confirmation link.
func renderConfirmation(h header, to string, l locale.Lang, mode Mode, link, id string) rendered {
	subject := l.T("ntf_confirm_subject")
	var b strings.Builder
	b.WriteString(l.T("ntf_hello") + "\n\n")
	fmt.Fprintf(&b, l.T("ntf_confirm_body")+"\n\n%s\n\n%s\n", l.T("ntf_mode_"+string(mode)), link, l.T("ntf_confirm_ignore"))
	return rendered{subject: subject, raw: h.build(target{email: to, lang: l}, subject, b.String(), id)}
}

// header builds the RFC 5322 header of fsecgm's messages.
type header struct {
	from string
	base string
	date time.Time
	// messageID is the left part of the Message-ID: stable for a
	// message, so that every copy of it carries the same one.
	messageID string
}

// build returns the whole message: headers (RFC 5322; RFC 2047 encoded
// subject and sender name; RFC 3834 Auto-Submitted) and the text body in
// quoted-printable UTF-8, with CRLF line ends. id overrides messageID.
func (h header) build(t target, subject, body string, id ...string) []byte {
	mid := h.messageID
	if len(id) > 0 {
		mid = id[0]
	}
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", mime.QEncoding.Encode("utf-8", t.lang.T("ntf_sender_name"))+" <"+h.from+">")
	hdr("To", "<"+t.email+">")
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", h.date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+mid+"@"+domainOf(h.from)+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Content-Language", string(t.lang))
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
