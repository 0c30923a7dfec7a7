package connsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/nightscout/nssite"

	"github.com/jackc/pgx/v5"
)

// The environment variables of the Nightscout source.
const (
	// EnvNightscout turns the Nightscout pull source off ("off"); it is
	// on by default (a site needs no registration of fsecgm).
	EnvNightscout         = "FSECGM_NIGHTSCOUT"
	EnvNightscoutInterval = "FSECGM_NIGHTSCOUT_INTERVAL"
)

// Defaults of [NightscoutConfig].
const (
	DefaultNightscoutInterval = 5 * time.Minute
	DefaultNightscoutBackfill = 14 * 24 * time.Hour
	DefaultNightscoutOverlap  = time.Hour
)

// NightscoutConfig configures the Nightscout pull source.
type NightscoutConfig struct {
	// Client configures the site client (HTTP client, page size).
	Client nssite.ClientConfig
	// Interval is how often each site is read
	// (FSECGM_NIGHTSCOUT_INTERVAL, DefaultNightscoutInterval).
	Interval time.Duration
	// Backfill is how far back the first sync reads, Overlap how far
	// before the newest stored reading the later ones read again.
	Backfill, Overlap time.Duration
}

func nightscoutConfigFromEnv(getenv func(string) string) (*NightscoutConfig, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv(EnvNightscout))); v {
	case "off", "false", "0":
		return nil, nil
	case "", "on", "true", "1":
	default:
		return nil, fmt.Errorf("connsync: %s=%q: want on or off", EnvNightscout, v)
	}
	c := &NightscoutConfig{}
	var err error
	if c.Interval, err = envDuration(getenv, EnvNightscoutInterval); err != nil {
		return nil, err
	}
	return c, nil
}

// nightscoutSource pulls a patient's own Nightscout site: the connection's
// sealed secret is the site (address, API secret or access token, API
// version), its source_key the site's normalized address. A site names no
// person (its entries carry only the uploader's name): the evidence is the
// site's secret, which only its owner has, given from the patient's own
// FSE session. Sites are independent servers: each connection's interval
// is its budget.
type nightscoutSource struct {
	s                 *Syncer
	client            *nssite.Client
	backfill, overlap time.Duration
}

func (*nightscoutSource) Name() string           { return SourceNightscout }
func (*nightscoutSource) Store() cgmstore.Source { return cgmstore.SourceNightscout }

func (s *Syncer) addNightscout(_ context.Context, c NightscoutConfig) error {
	if c.Client.Logger == nil {
		c.Client.Logger = s.log
	}
	n := &nightscoutSource{s: s, client: nssite.NewClient(c.Client), backfill: c.Backfill, overlap: c.Overlap}
	if n.backfill <= 0 {
		n.backfill = DefaultNightscoutBackfill
	}
	if n.overlap <= 0 {
		n.overlap = DefaultNightscoutOverlap
	}
	s.intervals[SourceNightscout] = c.Interval
	if c.Interval <= 0 {
		s.intervals[SourceNightscout] = DefaultNightscoutInterval
	}
	s.nightscout = n
	s.addSource(n)
	return nil
}

// NightscoutAvailable reports whether the Nightscout pull source is on.
func (s *Syncer) NightscoutAvailable() bool { return s.nightscout != nil }

// NightscoutRequest is a patient's Nightscout site. APISecret and Token
// are secrets: never logged, never returned.
type NightscoutRequest struct {
	// URL is the site's address (https://…); API "v1" (default) or "v3".
	URL string
	API string
	// APISecret is the site's API_SECRET (its SHA-1 is sent); Token an
	// access token with the readable role. API v1 takes either; API v3
	// needs Token.
	APISecret string
	Token     string
}

// LogValue keeps the request's secrets out of logs.
func (r NightscoutRequest) LogValue() slog.Value { return slog.StringValue("redacted") }

func nsInvalid(code, it, en string) error {
	return &UserError{Kind: ErrInvalid, Code: code, Text: Text{IT: it, EN: en}}
}

// ConnectNightscout connects a patient's own Nightscout site, in tx. The
// address and the secret are checked first by reading the site's last
// hour of entries once: a refusal (wrong secret or token, not a Nightscout
// site) is reported at once and nothing is stored. The site is sealed as
// the connection's secret; the first sync reads DefaultNightscoutBackfill
// back.
func (s *Syncer) ConnectNightscout(ctx context.Context, tx pgx.Tx, patientID int64, req NightscoutRequest) (Connection, error) {
	if s.nightscout == nil {
		return Connection{}, &UserError{Kind: ErrConflict, Code: "nightscout_unavailable", Text: Text{
			IT: "Il collegamento di siti Nightscout non è attivo su questo servizio.",
			EN: "Connecting Nightscout sites is not available on this service."}}
	}
	base, err := nssite.NormalizeURL(req.URL)
	if err != nil || len(base) > 300 {
		return Connection{}, nsInvalid("url_invalid",
			"Inserire l'indirizzo del sito Nightscout, che inizia con https:// (per esempio https://miosito.herokuapp.com), senza il segreto.",
			"Enter the Nightscout site's address, starting with https:// (for example https://mysite.herokuapp.com), without the secret.")
	}
	api := strings.ToLower(strings.TrimSpace(req.API))
	switch api {
	case "", nssite.APIv1:
		api = nssite.APIv1
	case nssite.APIv3:
		if req.Token == "" {
			return Connection{}, nsInvalid("token_required", "L'API v3 di Nightscout richiede un token di accesso (Amministrazione › Soggetti, ruolo readable).",
				"Nightscout's API v3 needs an access token (Admin tools › Subjects, role readable).")
		}
	default:
		return Connection{}, nsInvalid("api_invalid", "L'API deve essere v1 o v3.", "The API must be v1 or v3.")
	}
	if len(req.APISecret) > 200 || len(req.Token) > 200 || req.APISecret != "" && len(req.APISecret) < 12 {
		return Connection{}, nsInvalid("secret_invalid", "L'API_SECRET di Nightscout ha almeno 12 caratteri.",
			"Nightscout's API_SECRET has at least 12 characters.")
	}
	site := nssite.Site{URL: base, APISecret: req.APISecret, Token: req.Token, API: api}
	if _, _, err := s.nightscout.client.Entries(ctx, site, time.Now().Add(-time.Hour)); err != nil {
		return Connection{}, nightscoutRefusal(err)
	}
	secret, err := json.Marshal(site)
	if err != nil {
		return Connection{}, err
	}
	label := base
	if u, err := url.Parse(base); err == nil {
		label = u.Host
	}
	_, pid, err := s.insertConnection(ctx, tx, newConnection{patientID: patientID, source: SourceNightscout, mode: ModePatient,
		key: base, label: label, state: StateActive, secret: secret})
	if err != nil {
		return Connection{}, err
	}
	s.log.InfoContext(ctx, "connsync: patient connected a Nightscout site", "connection", pid)
	return getConnection(ctx, tx, patientID, pid)
}

// nightscoutRefusal turns a site's failure met while connecting into a
// *UserError.
func nightscoutRefusal(err error) error {
	var se *nssite.SiteError
	if !errors.As(err, &se) {
		return fmt.Errorf("connsync: nightscout: %w", err)
	}
	code := "nightscout_error"
	switch se.Kind {
	case nssite.KindUnauthorized:
		code = "bad_credentials"
	case nssite.KindNotFound, nssite.KindHTMLPage:
		code = "not_nightscout"
	}
	return &UserError{Kind: ErrRefused, Code: code, Text: nightscoutAdvice(se.Kind), Cause: se}
}

// nightscoutAdvice says what to do about a site's failure.
func nightscoutAdvice(k nssite.ErrorKind) Text {
	switch k {
	case nssite.KindUnauthorized:
		return Text{
			IT: "Il sito Nightscout rifiuta il segreto o il token. fsecgm non riprova con questi: scollegare il sito e collegarlo di nuovo con l'API_SECRET o un token con il ruolo readable.",
			EN: "The Nightscout site refuses the secret or token. fsecgm does not try these again: disconnect the site and connect it again with the API_SECRET or a token with the readable role."}
	case nssite.KindNotFound, nssite.KindHTMLPage:
		return Text{
			IT: "All'indirizzo indicato non risponde un sito Nightscout (o il sito è sospeso dal suo hosting). Verificare l'indirizzo nel browser; fsecgm riprova alla prossima sincronizzazione.",
			EN: "No Nightscout site answers at this address (or its hosting suspended it). Check the address in a browser; fsecgm tries again at the next sync."}
	case nssite.KindRateLimited:
		return Text{
			IT: "Il sito Nightscout chiede di rallentare: fsecgm attende e riprova. Nessuna azione necessaria.",
			EN: "The Nightscout site asks to slow down: fsecgm waits and tries again. Nothing to do."}
	case nssite.KindMalformedJSON:
		return Text{
			IT: "La risposta del sito Nightscout era incompleta o non valida. Non è stato salvato nulla; fsecgm riprova alla prossima sincronizzazione.",
			EN: "The Nightscout site's answer was incomplete or invalid. Nothing was stored; fsecgm tries again at the next sync."}
	}
	return Text{
		IT: "Il sito Nightscout non ha risposto come previsto (errore del server, rete o tempo scaduto). fsecgm riprova alla prossima sincronizzazione.",
		EN: "The Nightscout site did not answer as expected (server error, network or timeout). fsecgm tries again at the next sync."}
}

// Sync implements Source for Nightscout.
func (n *nightscoutSource) Sync(ctx context.Context, j *Job) Outcome {
	var site nssite.Site
	if err := json.Unmarshal(j.Secret, &site); err != nil || site.URL == "" {
		return internalOutcome(fmt.Errorf("connsync: nightscout site of connection %s: unreadable", j.PublicID))
	}
	since := time.Now().Add(-n.backfill)
	if !j.Newest.IsZero() {
		since = j.Newest.Add(-n.overlap)
	}
	f, more, err := n.client.Entries(ctx, site, since)
	if err != nil {
		return n.classify(ctx, err)
	}
	out := Outcome{State: StateActive, Readings: f.Readings, Fetched: f.Entries, Skipped: f.Skipped + len(f.Rejected)}
	if more {
		// A long backfill continues at the next slot, from the newest
		// reading stored now.
		out.Wait = time.Second
	}
	return out
}

func (n *nightscoutSource) classify(ctx context.Context, err error) Outcome {
	if be, ok := asBudgetError(err); ok {
		return budgetOutcome(be)
	}
	var se *nssite.SiteError
	if !errors.As(err, &se) {
		n.s.log.ErrorContext(ctx, "connsync: Nightscout sync failed", "err", err)
		return internalOutcome(err)
	}
	o := Outcome{Err: err, Kind: se.Kind.String(), Message: se.Error(), Advice: nightscoutAdvice(se.Kind)}
	switch se.Kind {
	case nssite.KindUnauthorized:
		o.State = StateBadCredentials
	case nssite.KindRateLimited:
		o.State, o.Wait = StateBackingOff, max(se.RetryAfter, time.Minute)
	default:
		o.State, o.Retry = StateError, true
	}
	return o
}
