package librelinkuptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fsecgm/cgm"
	"fsecgm/connectors/glucosim"
)

// Fixed bodies, as recorded in connectors/librelinkup/testdata (their
// sources in its SOURCES.md).
const (
	bodyBadCredentials   = `{"status":2,"error":{"message":"notAuthenticated"}}`
	bodyNotFound         = `{"error":{"message":"couldNotLoadPatient"},"status":4}`
	bodyMaintenance      = `{"status":911}`
	bodyHeaderMissing    = `{"message":"RequiredHeaderMissing"}`
	bodyInvalidJWT       = `{"message":"invalid or expired jwt"}`
	bodyWrongAccountID   = `{"message":"invalid or expired jwt"}`
	bodyTooManyRequests  = `{"message":"Too Many Requests"}`
	ticketDurationMillis = int64(TokenLifetime / time.Millisecond)
)

// pools hold reusable buffers.
type pools struct {
	bufs   sync.Pool // *[]byte
	points sync.Pool // *[]glucosim.Point
	tokens verified
}

func (p *pools) buf() *[]byte {
	if b, ok := p.bufs.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (p *pools) putBuf(b *[]byte) {
	if cap(*b) <= 8<<20 {
		p.bufs.Put(b)
	}
}

func (p *pools) pts() *[]glucosim.Point {
	if b, ok := p.points.Get().(*[]glucosim.Point); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]glucosim.Point, 0, 256)
	return &b
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if over, wait := s.overAddressLimit(r); over {
		s.addrRefused.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeRaw(w, http.StatusTooManyRequests, "application/json", bodyTooManyRequests)
		return
	}
	region, path := route(r)
	s.log.Debug("librelinkuptest: request", "method", r.Method, "region", region, "path", path)
	switch {
	case path == "/llu/auth/login" && r.Method == http.MethodPost:
		s.handleLogin(w, r, region)
	case strings.HasPrefix(path, "/auth/continue/") && r.Method == http.MethodPost:
		s.handleContinue(w, r, strings.TrimPrefix(path, "/auth/continue/"))
	case path == "/llu/connections" && r.Method == http.MethodGet:
		s.handleData(w, r, region, EndpointConnections, "")
	case strings.HasPrefix(path, "/llu/connections/") && r.Method == http.MethodGet:
		id, what, _ := strings.Cut(strings.TrimPrefix(path, "/llu/connections/"), "/")
		switch what {
		case "graph":
			s.handleData(w, r, region, EndpointGraph, id)
		case "logbook":
			s.handleData(w, r, region, EndpointLogbook, id)
		default:
			writeRaw(w, http.StatusNotFound, "application/json", `{"message":"Not Found"}`)
		}
	case path == "/llu/config/country" && r.Method == http.MethodGet:
		s.handleConfig(w)
	default:
		writeRaw(w, http.StatusNotFound, "application/json", `{"message":"Not Found"}`)
	}
}

// route returns the region a request addresses and its path without the
// region prefix: "/eu/llu/..." is region eu, "/global/llu/..." or a path
// without prefix is the host's region (the real host names map to their
// regions; any other host is the global one).
func route(r *http.Request) (string, string) {
	p := r.URL.Path
	if seg, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/"); ok {
		switch {
		case seg == "global":
			return "", "/" + rest
		case seg != "llu" && seg != "auth" && regionCode(seg):
			return seg, "/" + rest
		}
	}
	return hostRegion(r.Host), p
}

// hostRegion maps a real LibreLinkUp host name to its region
// (timoschlueter/nightscout-librelink-up, src/constants/llu-api-endpoints.ts;
// the regionalMap of /llu/config/country in FokkeZB/libreview-unofficial).
func hostRegion(host string) string {
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	switch host = strings.ToLower(host); {
	case host == "api.libreview.ru":
		return "ru"
	case host == "api-cn.myfreestyle.cn":
		return "cn"
	case strings.HasPrefix(host, "api-") && strings.HasSuffix(host, ".libreview.io"):
		if r := strings.TrimSuffix(strings.TrimPrefix(host, "api-"), ".libreview.io"); regionCode(r) {
			return r
		}
	}
	return ""
}

// headersPresent answers 400 RequiredHeaderMissing when product or
// version is missing.
func headersPresent(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("product") == "" || r.Header.Get("version") == "" {
		writeRaw(w, http.StatusBadRequest, "application/json", bodyHeaderMissing)
		return false
	}
	return true
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, region string) {
	if !headersPresent(w, r) {
		return
	}
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeRaw(w, http.StatusBadRequest, "application/json", `{"message":"Bad Request"}`)
		return
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	cnt := s.counters(email)
	cnt.logins.Add(1)
	s.mu.RLock()
	acc := s.accounts[email]
	s.mu.RUnlock()
	var f Faults
	if acc != nil {
		acc.mu.Lock()
		f = acc.faults
		acc.mu.Unlock()
		if f.applies(EndpointLogin) && s.requestFault(w, r, &f) {
			return
		}
	}
	if acc == nil {
		cnt.failed.Add(1)
		s.writeBody(w, http.StatusOK, []byte(bodyBadCredentials), &f, EndpointLogin)
		return
	}
	if region != acc.spec.Region {
		if region != "" && s.opts.StrangerHost911 {
			s.writeBody(w, http.StatusOK, []byte(bodyMaintenance), &f, EndpointLogin)
			return
		}
		cnt.redirects.Add(1)
		s.writeBody(w, http.StatusOK, fmt.Appendf(nil, `{"status":0,"data":{"redirect":true,"region":%q}}`, acc.spec.Region), &f, EndpointLogin)
		return
	}
	now := s.now()
	acc.mu.Lock()
	if now.Before(acc.lockedUntil) {
		acc.mu.Unlock()
		cnt.locked.Add(1)
		s.writeBody(w, http.StatusOK, s.lockedBody(), &f, EndpointLogin)
		return
	}
	if f.BadCredentials || req.Password != acc.password {
		kept := acc.failures[:0]
		for _, t := range acc.failures {
			if now.Sub(t) < s.opts.LockoutWindow {
				kept = append(kept, t)
			}
		}
		acc.failures = append(kept, now)
		if len(acc.failures) >= s.opts.LockoutFailures {
			acc.lockedUntil, acc.failures = now.Add(s.opts.LockoutDuration), nil
		}
		acc.mu.Unlock()
		cnt.failed.Add(1)
		s.writeBody(w, http.StatusOK, []byte(bodyBadCredentials), &f, EndpointLogin)
		return
	}
	acc.failures = nil
	if f.LoginRefused != 0 {
		acc.mu.Unlock()
		writeRaw(w, f.LoginRefused, "", "")
		return
	}
	if f.TwoFactor && len(acc.steps) == 0 {
		acc.mu.Unlock()
		s.writeBody(w, http.StatusOK, fmt.Appendf(nil, `{"status":0,"data":{"user":{"id":%s,"firstName":%s,"lastName":%s,"country":%s,"twoFactor":{"primaryMethod":"email","primaryValue":"***","secondaryMethod":"","secondaryValue":""}},"messages":{"unread":0},"notifications":{"unresolved":0},"invitations":null,"trustedDeviceToken":""}}`,
			jsonString(acc.spec.UserID), jsonString(acc.spec.FirstName), jsonString(acc.spec.LastName), jsonString(acc.spec.Country)), &f, EndpointLogin)
		return
	}
	body, err := s.authBody(acc, r.Header.Get("product"), now, cnt)
	acc.mu.Unlock()
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, "text/plain", err.Error())
		return
	}
	s.writeBody(w, http.StatusOK, body, &f, EndpointLogin)
}

// lockedBody is the status 429 "locked" body with the configured limits.
func (s *Server) lockedBody() []byte {
	return fmt.Appendf(nil, `{"status":429,"data":{"code":60,"data":{"failures":%d,"interval":%d,"lockout":%d},"message":"locked"}}`,
		s.opts.LockoutFailures, int(s.opts.LockoutWindow/time.Second), int(s.opts.LockoutDuration/time.Second))
}

// authBody returns the answer to a good password (a's mu held): the first
// pending step, or the user with a 180-day token.
func (s *Server) authBody(a *account, product string, now time.Time, cnt *counters) ([]byte, error) {
	if len(a.steps) > 0 {
		step := a.steps[0]
		tok, exp, err := s.issue(a, StepTokenLifetime, product)
		if err != nil {
			return nil, err
		}
		cnt.steps.Add(1)
		props, _ := stepProps(step)
		component := "AcceptDocument"
		if step == "verifyEmail" {
			component = "VerifyEmail"
			props = fmt.Sprintf(`{"email":%s}`, jsonString(a.spec.Email))
		}
		return fmt.Appendf(nil, `{"status":4,"data":{"step":{"type":%q,"componentName":%q,"props":%s},"user":{"accountType":"pat","country":%s,"uiLanguage":"it-IT"},"authTicket":{"token":%q,"expires":%d,"duration":%d}}}`,
			step, component, props, jsonString(a.spec.Country), tok, exp.Unix(), int64(StepTokenLifetime/time.Millisecond)), nil
	}
	tok, exp, err := s.issue(a, TokenLifetime, product)
	if err != nil {
		return nil, err
	}
	cnt.ok.Add(1)
	uom := "1"
	if a.spec.Unit == cgm.MmolL {
		uom = "0"
	}
	created := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC).Unix()
	return fmt.Appendf(nil, `{"status":0,"data":{"user":{"id":%s,"firstName":%s,"lastName":%s,"email":%s,"country":%s,"uiLanguage":"it-IT","communicationLanguage":"it-IT","accountType":"pat","uom":%q,"dateFormat":"2","timeFormat":"2","emailDay":[1],"system":{"messages":{"firstUsePhoenix":%d,"lluAnalyticsNewAccount":%d,"lvWebPostRelease":"3.7.22"}},"details":{},"twoFactor":{"primaryMethod":"","primaryValue":"","secondaryMethod":"","secondaryValue":""},"created":%d,"lastLogin":%d,"programs":{},"dateOfBirth":0,"practices":{},"devices":{%s:{"id":%s,"nickname":"","sn":%s,"type":40068,"uploadDate":%d}},"consents":{"llu":{"policyAccept":%d,"touAccept":%d}}},"messages":{"unread":0},"notifications":{"unresolved":0},"authTicket":{"token":%q,"expires":%d,"duration":%d},"invitations":null,"trustedDeviceToken":""}}`,
		jsonString(a.spec.UserID), jsonString(a.spec.FirstName), jsonString(a.spec.LastName), jsonString(a.spec.Email),
		jsonString(a.spec.Country), uom, created, created, created, now.Unix(),
		jsonString(a.deviceID), jsonString(a.deviceID), jsonString(strings.ToUpper(uuidFrom(hashString("app "+a.spec.Email)))), created,
		created, created, tok, exp.Unix(), ticketDurationMillis), nil
}

// stepProps returns the props of a document step, and whether the step is
// known.
func stepProps(step string) (string, bool) {
	switch step {
	case "tou":
		return `{"reaccept":true,"titleKey":"Common.termsOfUse","type":"tou"}`, true
	case "pp":
		return `{"reaccept":true,"titleKey":"Common.privacyPolicy","type":"pp"}`, true
	case "verifyEmail":
		return `{}`, true
	}
	return "", false
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// handleContinue accepts a document step: POST /auth/continue/{tou|pp} with
// the step's token (FokkeZB/libreview-unofficial, reference/LibreView.yaml;
// pachi81/GlucoDataHandler, LibreLinkSourceTask.kt). fsecgm's client never
// calls it; the fake has it so that a test can play the patient.
func (s *Server) handleContinue(w http.ResponseWriter, r *http.Request, step string) {
	if !headersPresent(w, r) {
		return
	}
	acc, seq, err := s.verify(r.Header.Get("Authorization"))
	if err != nil {
		writeRaw(w, http.StatusUnauthorized, "application/json", bodyInvalidJWT)
		return
	}
	cnt := s.counters(acc.spec.Email)
	cnt.continues.Add(1)
	acc.mu.Lock()
	if seq <= acc.revokedSeq {
		acc.mu.Unlock()
		writeRaw(w, http.StatusUnauthorized, "application/json", bodyInvalidJWT)
		return
	}
	if (step == "tou" || step == "pp") && len(acc.steps) > 0 && acc.steps[0] == step {
		acc.steps = acc.steps[1:]
	}
	body, err := s.authBody(acc, r.Header.Get("product"), s.now(), cnt)
	acc.mu.Unlock()
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, "text/plain", err.Error())
		return
	}
	s.writeBody(w, http.StatusOK, body, nil, 0)
}

// handleData serves connections, graph and logbook. The checks come in this
// order: token (401 "invalid or expired jwt", gui-dos/DiaBLE), version
// (403/920, timoschlueter/nightscout-librelink-up issue #175), Account-Id
// (400 RequiredHeaderMissing, issue #167), then the account's faults.
func (s *Server) handleData(w http.ResponseWriter, r *http.Request, region string, ep Endpoint, patientID string) {
	if !headersPresent(w, r) {
		return
	}
	acc, seq, err := s.verify(r.Header.Get("Authorization"))
	if err != nil {
		writeRaw(w, http.StatusUnauthorized, "application/json", bodyInvalidJWT)
		return
	}
	cnt := s.counters(acc.spec.Email)
	acc.mu.Lock()
	f := acc.faults
	follows := acc.follows
	unauthorized := seq <= acc.revokedSeq || f.Unauthorized || len(acc.steps) > 0
	acc.mu.Unlock()
	if unauthorized {
		cnt.unauthorized.Add(1)
		writeRaw(w, http.StatusUnauthorized, "application/json", bodyInvalidJWT)
		return
	}
	switch ep {
	case EndpointConnections:
		cnt.connections.Add(1)
	case EndpointGraph:
		cnt.graphs.Add(1)
	case EndpointLogbook:
		cnt.logbooks.Add(1)
	}
	minVersion := s.opts.MinVersion
	if f.MinimumVersion != "" {
		minVersion = f.MinimumVersion
	}
	if versionLess(r.Header.Get("version"), minVersion) {
		writeRaw(w, http.StatusForbidden, "application/json", fmt.Sprintf(`{"data":{"minimumVersion":%s},"status":920}`, jsonString(minVersion)))
		return
	}
	switch aid := r.Header.Get("Account-Id"); {
	case aid == "":
		writeRaw(w, http.StatusBadRequest, "application/json", bodyHeaderMissing)
		return
	case aid != acc.accountID:
		writeRaw(w, s.opts.WrongAccountIDStatus, "application/json", bodyWrongAccountID)
		return
	}
	if region != acc.spec.Region {
		s.writeBody(w, http.StatusOK, []byte(bodyMaintenance), nil, 0)
		return
	}
	if f.applies(ep) && s.requestFault(w, r, &f) {
		return
	}
	tok, exp, err := s.ticket(acc, r.Header.Get("product"))
	if err != nil {
		writeRaw(w, http.StatusInternalServerError, "text/plain", err.Error())
		return
	}
	now := s.now()
	bp := s.pools.buf()
	defer s.pools.putBuf(bp)
	b := (*bp)[:0]
	switch ep {
	case EndpointConnections:
		b = append(b, `{"status":0,"data":[`...)
		if !f.EmptyConnections {
			for i, p := range follows {
				if i > 0 {
					b = append(b, ',')
				}
				b = p.appendConnection(b, now, &f)
			}
		}
		b = append(b, ']')
	default:
		var p *patient
		if i := slices.IndexFunc(follows, func(p *patient) bool { return p.spec.ID == patientID }); i >= 0 {
			p = follows[i]
		}
		if p == nil {
			s.writeBody(w, http.StatusOK, []byte(bodyNotFound), &f, ep)
			return
		}
		if ep == EndpointGraph {
			b = s.appendGraph(b, p, now, &f)
		} else {
			b = s.appendLogbook(b, p, now)
		}
	}
	b = append(b, `,"ticket":{"token":"`...)
	b = append(b, tok...)
	b = append(b, `","expires":`...)
	b = strconv.AppendInt(b, exp.Unix(), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, ticketDurationMillis, 10)
	b = append(b, "}}"...)
	*bp = b
	s.writeBody(w, http.StatusOK, b, &f, ep)
}

// appendGraph appends `{"status":0,"data":{...}` of a graph reply.
func (s *Server) appendGraph(b []byte, p *patient, now time.Time, f *Faults) []byte {
	b = append(b, `{"status":0,"data":{"connection":`...)
	b = p.appendConnection(b, now, f)
	from, to := now.Add(-s.opts.GraphSpan), now.Add(-s.opts.GraphLag)
	if !f.NoActiveSensors {
		// The sensors worn over the window, newest first (as in the gist).
		b = append(b, `,"activeSensors":[`...)
		n := 0
		var last int64 = -1 << 62
		for _, t := range [2]time.Time{now, from} {
			sn, ok := p.sim.SensorAt(t)
			if !ok || sn.Index == last || f.SensorNull {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"sensor":`...)
			b = p.appendSensor(b, sn, p.did, false)
			b = append(b, `,"device":`...)
			b = append(b, p.device...)
			b = append(b, '}')
			last, n = sn.Index, n+1
		}
		b = append(b, ']')
	}
	pp := s.pools.pts()
	pts := p.sim.AppendHistoric(*pp, from, to)
	b = append(b, `,"graphData":[`...)
	for i, pt := range pts {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.appendItem(b, pt, itemGraph, -1)
	}
	*pp = pts
	s.pools.points.Put(pp)
	return append(b, "]}"...)
}

// logbookEntry is an entry of a simulated logbook.
type logbookEntry struct {
	pt        glucosim.Point
	typ       int
	alarmType int
}

// appendLogbook appends `{"status":0,"data":[...]` of a logbook reply: 14
// days, newest first, with a few scans a day (type 1) and an alarm with its
// reading (type 3) where glucose crosses the low, fixed-low (55 mg/dL) or
// high threshold.
func (s *Server) appendLogbook(b []byte, p *patient, now time.Time) []byte {
	from := now.Add(-14 * 24 * time.Hour)
	var entries []logbookEntry
	pts := p.sim.Historic(from, now.Add(-s.opts.GraphLag))
	for i := 1; i < len(pts); i++ {
		prev, cur := pts[i-1].MgDL, pts[i].MgDL
		at := -1
		switch {
		case cur < 55 && prev >= 55:
			at = 0
		case cur < p.spec.AlarmLow && prev >= p.spec.AlarmLow:
			at = 1
		case cur > p.spec.AlarmHigh && prev <= p.spec.AlarmHigh:
			at = 2
		}
		if at < 0 {
			continue
		}
		if c, ok := p.sim.Current(pts[i].Time); ok {
			entries = append(entries, logbookEntry{pt: c, typ: itemAlarmReading, alarmType: at})
		}
	}
	// Scans: three to six a day at times drawn from the patient and the day.
	for d := from.Truncate(24 * time.Hour); d.Before(now); d = d.Add(24 * time.Hour) {
		h := hashUint("scans "+p.spec.ID, uint64(d.Unix()))
		n := 3 + int(h[0]%4)
		for i := range n {
			t := d.Add(time.Duration(7*60+int(h[1+i])*3+i*150) * time.Minute)
			if t.Before(from) || !t.Before(now) {
				continue
			}
			if c, ok := p.sim.Current(t); ok {
				entries = append(entries, logbookEntry{pt: c, typ: itemMeasurement, alarmType: -1})
			}
		}
	}
	slices.SortFunc(entries, func(a, b logbookEntry) int { return b.pt.Time.Compare(a.pt.Time) })
	b = append(b, `{"status":0,"data":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.appendItem(b, e.pt, e.typ, e.alarmType)
	}
	return append(b, ']')
}

// handleConfig answers GET /llu/config/country with the regional map and
// the minimum version (a small subset of config_country.json).
func (s *Server) handleConfig(w http.ResponseWriter) {
	var b bytes.Buffer
	b.WriteString(`{"status":0,"data":{"regionalMap":{`)
	for i, r := range []string{"ae", "ap", "au", "ca", "de", "eu", "eu2", "fr", "jp", "us"} {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%q:{"lslApi":"https://api-%s.libreview.io","socketHub":"https://hub-%s.libreview.io/"}`, r, r, r)
	}
	fmt.Fprintf(&b, `},"MinVersion":%s}}`, jsonString(s.opts.MinVersion))
	s.writeBody(w, http.StatusOK, b.Bytes(), nil, 0)
}

// requestFault answers with the account's request fault, if any, and
// reports whether it did.
func (s *Server) requestFault(w http.ResponseWriter, r *http.Request, f *Faults) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	retryAfter := func() {
		if f.RetryAfter <= 0 {
			return
		}
		if f.RetryAfterDate {
			w.Header().Set("Retry-After", s.now().Add(f.RetryAfter).UTC().Format(http.TimeFormat))
		} else {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
	}
	switch {
	case f.Cloudflare != 0:
		retryAfter()
		writeRaw(w, f.Cloudflare, "text/html; charset=UTF-8", cloudflarePage(f.Cloudflare))
	case f.RateLimit:
		retryAfter()
		writeRaw(w, http.StatusTooManyRequests, "application/json", bodyTooManyRequests)
	case f.ServerError != 0:
		writeRaw(w, f.ServerError, "text/plain; charset=utf-8", http.StatusText(f.ServerError))
	case f.Maintenance:
		writeRaw(w, http.StatusOK, "application/json", bodyMaintenance)
	default:
		return false
	}
	return true
}

// cloudflarePage returns a block page in the style of Cloudflare's
// "Attention Required!" (403) and error 1015 rate-limit (429) pages
// (timoschlueter/nightscout-librelink-up issues #129 and #182); the text is
// the fake's own.
func cloudflarePage(status int) string {
	title, text := "Attention Required! | Cloudflare", "Sorry, you have been blocked. This website is using a security service to protect itself from online attacks."
	if status == http.StatusTooManyRequests {
		title, text = "Access denied | api.libreview.io used Cloudflare to restrict access", "Error 1015: You are being rate limited. The owner of this website has banned you temporarily from accessing this website."
	}
	return "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<title>" + title + "</title>\n<meta charset=\"UTF-8\" />\n</head>\n<body>\n<h1>" + text + "</h1>\n<p>Cloudflare Ray ID: fake</p>\n</body>\n</html>\n"
}

// writeBody writes a JSON body, damaged as the faults of endpoint ep say.
func (s *Server) writeBody(w http.ResponseWriter, code int, body []byte, f *Faults, ep Endpoint) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if f != nil && ep != 0 && f.applies(ep) {
		switch {
		case f.MalformedJSON:
			// A doubled comma: invalid JSON of the same shape.
			if i := bytes.IndexByte(body, ','); i >= 0 {
				body = slices.Concat(body[:i+1], body[i:])
			} else {
				body = append(slices.Clip(body), '}')
			}
		case f.TruncatedJSON:
			body = body[:len(body)/2]
		case f.DropConnection:
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(code)
			_, _ = w.Write(body[:len(body)/2])
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			panic(http.ErrAbortHandler) // closes the connection mid-body
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeRaw(w http.ResponseWriter, code int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
