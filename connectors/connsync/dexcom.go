package connsync

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/dexcom"

	"github.com/jackc/pgx/v5"
)

// The environment variables of the Dexcom source.
const (
	EnvDexcomClientID         = "FSECGM_DEXCOM_CLIENT_ID"
	EnvDexcomClientSecret     = "FSECGM_DEXCOM_CLIENT_SECRET"
	EnvDexcomClientSecretFile = "FSECGM_DEXCOM_CLIENT_SECRET_FILE"
	EnvDexcomEnv              = "FSECGM_DEXCOM_ENV"
	EnvDexcomURL              = "FSECGM_DEXCOM_URL"
	EnvDexcomRedirectURL      = "FSECGM_DEXCOM_REDIRECT_URL"
	EnvDexcomInterval         = "FSECGM_DEXCOM_INTERVAL"
)

// Defaults of [DexcomConfig].
const (
	// DefaultDexcomInterval: the API is retrospective (its data lag the
	// sensor), and 60,000 requests an hour serve an application's
	// patients: 10 minutes keeps a few thousand patients at one or two
	// requests a sync well inside it.
	DefaultDexcomInterval = 10 * time.Minute
	// DefaultDexcomBackfill is how far back the first sync reads.
	DefaultDexcomBackfill = 30 * 24 * time.Hour
	// DefaultDexcomOverlap is how far before the newest stored reading a
	// sync reads again: values uploaded late fill in.
	DefaultDexcomOverlap = 3 * time.Hour
	// authorizationLifetime bounds a consent page's round trip.
	authorizationLifetime = 10 * time.Minute
	// devicesEvery is how often the devices are read.
	devicesEvery = 24 * time.Hour
)

// DexcomConfig configures the Dexcom API source.
type DexcomConfig struct {
	// Client configures the API client: BaseURL (FSECGM_DEXCOM_URL, or
	// the host of FSECGM_DEXCOM_ENV: sandbox, us, eu, jp), ClientID and
	// ClientSecret (FSECGM_DEXCOM_CLIENT_ID, FSECGM_DEXCOM_CLIENT_SECRET or
	// _FILE), RedirectURI (FSECGM_DEXCOM_REDIRECT_URL; "fsecgm serve"
	// defaults it to its base URL's /taccuino/dexcom/callback).
	Client dexcom.Config
	// Interval is how often each connection is synced
	// (FSECGM_DEXCOM_INTERVAL, DefaultDexcomInterval).
	Interval time.Duration
	// Budget is the application's request budget (default:
	// dexcom.RequestsPerHour, 1,000 a minute).
	Budget BudgetConfig
	// Backfill and Overlap: see the defaults.
	Backfill, Overlap time.Duration
}

// dexcomConfigFromEnv reads the Dexcom source's settings; nil when no
// client id is configured (the source is off).
func dexcomConfigFromEnv(getenv func(string) string, _ EnvOptions) (*DexcomConfig, error) {
	id := strings.TrimSpace(getenv(EnvDexcomClientID))
	if id == "" {
		return nil, nil
	}
	c := &DexcomConfig{}
	c.Client.ClientID = id
	c.Client.ClientSecret = strings.TrimSpace(getenv(EnvDexcomClientSecret))
	if f := strings.TrimSpace(getenv(EnvDexcomClientSecretFile)); f != "" {
		if c.Client.ClientSecret != "" {
			return nil, fmt.Errorf("connsync: set %s or %s, not both", EnvDexcomClientSecret, EnvDexcomClientSecretFile)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("connsync: %s: %w", EnvDexcomClientSecretFile, err)
		}
		c.Client.ClientSecret = strings.TrimSpace(string(b))
	}
	if c.Client.ClientSecret == "" {
		return nil, fmt.Errorf("connsync: %s is set: set %s or %s too", EnvDexcomClientID, EnvDexcomClientSecret, EnvDexcomClientSecretFile)
	}
	c.Client.BaseURL = strings.TrimSpace(getenv(EnvDexcomURL))
	if env := strings.TrimSpace(getenv(EnvDexcomEnv)); c.Client.BaseURL == "" {
		u, ok := dexcom.HostURL(env)
		if !ok {
			return nil, fmt.Errorf("connsync: %s=%q: want sandbox, us, eu or jp", EnvDexcomEnv, env)
		}
		c.Client.BaseURL = u
	}
	c.Client.RedirectURI = strings.TrimSpace(getenv(EnvDexcomRedirectURL))
	var err error
	if c.Interval, err = envDuration(getenv, EnvDexcomInterval); err != nil {
		return nil, err
	}
	return c, nil
}

// dexcomSource is the Dexcom API: a connection holds, sealed, the
// patient's tokens (access and single-use refresh), and its source_key is
// the user id Dexcom gives the application. Dexcom's API names no person:
// the evidence that the data are the patient's is the patient's own login
// at Dexcom and consent, given from their own FSE session (the callback
// must come from whoever started the authorization).
type dexcomSource struct {
	s        *Syncer
	client   *dexcom.Client
	budget   *Budget
	backfill time.Duration
	overlap  time.Duration
}

func (*dexcomSource) Name() string           { return SourceDexcom }
func (*dexcomSource) Store() cgmstore.Source { return cgmstore.SourceDexcom }

// dexcomSecret is a Dexcom connection's sealed secret.
type dexcomSecret struct {
	Token     dexcom.Token `json:"token"`
	DevicesAt time.Time    `json:"devices_at"`
}

// addDexcom configures the Dexcom source.
func (s *Syncer) addDexcom(ctx context.Context, c DexcomConfig) error {
	if c.Budget.PerMinute == 0 {
		c.Budget.PerMinute = dexcom.RequestsPerHour / 60
	}
	if c.Budget.Burst == 0 {
		c.Budget.Burst = 100
	}
	b, err := newBudget(ctx, s.pool, SourceDexcom, c.Budget)
	if err != nil {
		return err
	}
	cc := c.Client
	if cc.HTTPClient == nil {
		cc.HTTPClient = dexcom.NewHTTPClient(dexcom.DefaultTimeout)
	}
	cc.HTTPClient = withBudget(cc.HTTPClient, b, false)
	if cc.Logger == nil {
		cc.Logger = s.log
	}
	client, err := dexcom.New(cc)
	if err != nil {
		return fmt.Errorf("connsync: %w", err)
	}
	d := &dexcomSource{s: s, client: client, budget: b, backfill: c.Backfill, overlap: c.Overlap}
	if d.backfill <= 0 {
		d.backfill = DefaultDexcomBackfill
	}
	if d.overlap <= 0 {
		d.overlap = DefaultDexcomOverlap
	}
	s.budgets[b.Name()] = b
	s.sourceBudget[SourceDexcom] = b
	s.intervals[SourceDexcom] = c.Interval
	if c.Interval <= 0 {
		s.intervals[SourceDexcom] = DefaultDexcomInterval
	}
	s.dexcom = d
	s.addSource(d)
	return nil
}

// DexcomAvailable reports whether the Dexcom source is configured.
func (s *Syncer) DexcomAvailable() bool { return s.dexcom != nil }

var errDexcomUnavailable = &UserError{Kind: ErrConflict, Code: "dexcom_unavailable", Text: Text{
	IT: "Il collegamento con Dexcom non è attivo su questo servizio.",
	EN: "The Dexcom connection is not available on this service."}}

// StartDexcom begins a patient's Dexcom authorization: it records, in tx,
// a state of 256 random bits (kept as its SHA-256) tied to the patient and
// to actor (who asked: consent.Actor's String()), with a PKCE verifier
// sealed beside it, and returns the Dexcom page to send the browser to.
// The state expires in ten minutes and is used once.
func (s *Syncer) StartDexcom(ctx context.Context, tx pgx.Tx, patientID int64, actor string) (string, error) {
	if s.dexcom == nil {
		return "", errDexcomUnavailable
	}
	if actor == "" || len(actor) > 500 {
		return "", fmt.Errorf("connsync: dexcom: %w: the actor is required", ErrInvalid)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("connsync: dexcom: state: %w", err)
	}
	state := hex.EncodeToString(b[:])
	hash := stateHash(state)
	verifier, challenge, err := dexcom.NewVerifier()
	if err != nil {
		return "", err
	}
	sl, err := s.keys.Seal([]byte(verifier), aadAuthorization(hash))
	if err != nil {
		return "", err
	}
	// Expired attempts go as new ones come.
	if _, err := tx.Exec(ctx, `DELETE FROM sync_authorizations WHERE expires_at < now()`); err != nil {
		return "", fmt.Errorf("connsync: dexcom: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sync_authorizations (state_hash, source, patient_id, actor, key_id, nonce, sealed, expires_at)
		VALUES ($1, 'dexcom', $2, $3, $4, $5, $6, now() + $7::interval)`,
		hash, patientID, actor, sl.KeyID, sl.Nonce, sl.Ciphertext, authorizationLifetime); err != nil {
		return "", fmt.Errorf("connsync: dexcom: %w", err)
	}
	s.log.InfoContext(ctx, "connsync: Dexcom authorization started", "patient", patientID)
	return s.dexcom.client.AuthorizeURL(state, challenge), nil
}

func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

func aadAuthorization(hash string) []byte { return []byte("sync_authorizations/" + hash) }

// errAuthorizationUnknown refuses a callback whose state is unknown,
// expired, used, or someone else's.
var errAuthorizationUnknown = &UserError{Kind: ErrRefused, Code: "authorization_unknown", Text: Text{
	IT: "Questa autorizzazione Dexcom non è valida o è scaduta (dura dieci minuti e vale una volta sola). Ripetere il collegamento dal taccuino.",
	EN: "This Dexcom authorization is not valid or has expired (it lasts ten minutes and works once). Connect again from the notebook."}}

// DexcomPatient returns the patient a Dexcom callback's state belongs to,
// without using the state: the caller then checks that the person
// completing it may act for that patient (the consent gate), and calls
// FinishDexcom in the gate's transaction. An unknown or expired state is
// a *UserError wrapping ErrRefused.
func (s *Syncer) DexcomPatient(ctx context.Context, db DB, state string) (int64, error) {
	if state == "" || len(state) > 200 {
		return 0, errAuthorizationUnknown
	}
	var id int64
	err := db.QueryRow(ctx, `SELECT patient_id FROM sync_authorizations WHERE state_hash = $1 AND expires_at > now()`,
		stateHash(state)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errAuthorizationUnknown
	}
	if err != nil {
		return 0, fmt.Errorf("connsync: dexcom: %w", err)
	}
	return id, nil
}

// FinishDexcom completes a Dexcom authorization from the callback's query
// (state and code, or error): it uses the state up at once (whatever
// follows), and in tx checks that it is patientID's, unexpired and started by actor,
// trades the code and the PKCE verifier for the patient's tokens, reads the
// data range for the user id Dexcom gives fsecgm, and stores the
// connection with its tokens sealed; the first sync reads back
// DefaultDexcomBackfill. A declined consent, a state that does not hold,
// or a Dexcom account already connected is a *UserError.
func (s *Syncer) FinishDexcom(ctx context.Context, tx pgx.Tx, patientID int64, actor string, q url.Values) (Connection, error) {
	if s.dexcom == nil {
		return Connection{}, errDexcomUnavailable
	}
	state := q.Get("state")
	if state == "" || len(state) > 200 {
		return Connection{}, errAuthorizationUnknown
	}
	hash := stateHash(state)
	var (
		owner   int64
		starter string
		expired bool
		sl      Sealed
	)
	// Used once: the row goes at once, in its own transaction, whatever
	// follows (the caller's transaction rolls back on a refusal).
	err := s.pool.QueryRow(ctx, `DELETE FROM sync_authorizations WHERE state_hash = $1
		RETURNING patient_id, actor, expires_at <= now(), key_id, nonce, sealed`, hash).
		Scan(&owner, &starter, &expired, &sl.KeyID, &sl.Nonce, &sl.Ciphertext)
	refuse := func(e error) (Connection, error) { return Connection{}, e }
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Connection{}, errAuthorizationUnknown
	case err != nil:
		return Connection{}, fmt.Errorf("connsync: dexcom: %w", err)
	case expired || owner != patientID || starter != actor:
		s.log.InfoContext(ctx, "connsync: Dexcom callback refused", "patient", patientID, "expired", expired,
			"other_patient", owner != patientID, "other_actor", starter != actor)
		return refuse(errAuthorizationUnknown)
	}
	if cerr := dexcom.CallbackError(q); cerr != nil {
		return refuse(dexcomUserError(cerr))
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		return refuse(errAuthorizationUnknown)
	}
	verifier, err := s.keys.Open(sl, aadAuthorization(hash))
	if err != nil {
		return refuse(fmt.Errorf("connsync: dexcom: %w", err))
	}
	tok, err := s.dexcom.client.Exchange(ctx, code, string(verifier))
	if err != nil {
		return refuse(dexcomUserError(err))
	}
	dr, err := s.dexcom.client.DataRange(ctx, tok.AccessToken)
	if err != nil {
		return refuse(dexcomUserError(err))
	}
	if dr.UserID == "" || len(dr.UserID) > 200 {
		return refuse(dexcomUserError(&dexcom.Error{Kind: dexcom.KindMalformedJSON, Op: "dataRange", Message: "userId missing"}))
	}
	secret, err := json.Marshal(dexcomSecret{Token: tok})
	if err != nil {
		return refuse(err)
	}
	_, pid, err := s.insertConnection(ctx, tx, newConnection{patientID: patientID, source: SourceDexcom, mode: ModePatient,
		key: dr.UserID, label: "Dexcom", state: StateActive, secret: secret})
	if err != nil {
		return refuse(err)
	}
	s.log.InfoContext(ctx, "connsync: patient connected Dexcom", "connection", pid)
	return getConnection(ctx, tx, patientID, pid)
}

// dexcomUserError turns a Dexcom failure met while connecting into a
// *UserError for the person connecting.
func dexcomUserError(err error) error {
	var de *dexcom.Error
	if !errors.As(err, &de) {
		return fmt.Errorf("connsync: dexcom: %w", err)
	}
	code := "dexcom_error"
	switch de.Kind {
	case dexcom.KindAccessDenied:
		code = "access_denied"
	case dexcom.KindInvalidGrant:
		code = "authorization_unknown"
	}
	return &UserError{Kind: ErrRefused, Code: code, Text: Text(de.Advice()), Cause: de}
}

// Sync implements Source for Dexcom.
func (d *dexcomSource) Sync(ctx context.Context, j *Job) Outcome {
	var sec dexcomSecret
	if err := json.Unmarshal(j.Secret, &sec); err != nil || sec.Token.RefreshToken == "" {
		return d.classify(ctx, &dexcom.Error{Kind: dexcom.KindInvalidGrant, Op: "refresh", Message: "no tokens stored"})
	}
	now := time.Now()
	logins := 0
	refresh := func() error {
		tok, err := d.client.Refresh(ctx, sec.Token.RefreshToken)
		logins++
		if err != nil {
			return err
		}
		sec.Token = tok
		// The old refresh token is spent: store the new one at once.
		b, err := json.Marshal(sec)
		if err != nil {
			return err
		}
		return j.SaveSecret(ctx, b)
	}
	fail := func(err error) Outcome {
		o := d.classify(ctx, err)
		o.Logins = logins
		return o
	}
	if !sec.Token.Fresh(now, 5*time.Minute) {
		if err := refresh(); err != nil {
			return fail(err)
		}
	}
	from := now.Add(-d.backfill)
	if !j.Newest.IsZero() {
		from = j.Newest.Add(-d.overlap)
	}
	egvs, err := d.client.EGVs(ctx, sec.Token.AccessToken, from, now)
	if dexcom.KindOf(err) == dexcom.KindUnauthorized && logins == 0 {
		if err = refresh(); err == nil {
			egvs, err = d.client.EGVs(ctx, sec.Token.AccessToken, from, now)
		}
	}
	if err != nil {
		return fail(err)
	}
	if egvs.UserID != "" && egvs.UserID != j.Key {
		// The tokens read another Dexcom account than the one connected:
		// another person's data, stored nowhere.
		o := mismatchOutcome(Text{
			IT: "Dexcom indica che questo collegamento legge un account diverso da quello collegato: la sincronizzazione è stata fermata e nulla è stato salvato. Scollegare Dexcom e collegarlo di nuovo con il proprio account.",
			EN: "Dexcom shows that this connection reads an account other than the one connected: syncing was stopped and nothing was stored. Disconnect Dexcom and connect it again with your own account."})
		o.Logins = logins
		return o
	}
	out := Outcome{State: StateActive, Logins: logins, Readings: egvs.Readings, Fetched: egvs.Records, Skipped: egvs.Skipped}
	if now.Sub(sec.DevicesAt) >= devicesEvery {
		ds, err := d.client.Devices(ctx, sec.Token.AccessToken)
		if err != nil {
			return fail(err)
		}
		for _, dev := range ds {
			if dev.TransmitterID != "" && len(dev.TransmitterID) <= 64 {
				out.Devices = append(out.Devices, cgmstore.Device{Serial: dev.TransmitterID, Model: dexcom.Model(dev.TransmitterGeneration)})
			}
		}
		sec.DevicesAt = now
		out.Commit = func(ctx context.Context, tx pgx.Tx, ok bool) error {
			if !ok {
				return nil
			}
			b, err := json.Marshal(sec)
			if err != nil {
				return err
			}
			sl, err := d.s.keys.Seal(b, aadSecret(j.PublicID))
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE sync_connections SET secret_key_id = $2, secret_nonce = $3, secret_sealed = $4,
				secret_version = secret_version + 1 WHERE id = $1`, j.ID, sl.KeyID, sl.Nonce, sl.Ciphertext)
			return err
		}
	}
	return out
}

// classify turns a failure of a Dexcom sync into its outcome.
func (d *dexcomSource) classify(ctx context.Context, err error) Outcome {
	if be, ok := asBudgetError(err); ok {
		return budgetOutcome(be)
	}
	if errors.Is(err, errLeaseLost) {
		return internalOutcome(err)
	}
	var de *dexcom.Error
	if !errors.As(err, &de) {
		d.s.log.ErrorContext(ctx, "connsync: Dexcom sync failed", "err", err)
		return internalOutcome(err)
	}
	o := Outcome{Err: err, Kind: de.Kind.String(), Message: de.Error(), Advice: Text(de.Advice())}
	switch de.Action() {
	case dexcom.ActionReauthorize:
		// Only the patient's new consent helps: no request until then.
		o.State = StateBadCredentials
	case dexcom.ActionBackOff:
		o.State, o.Wait = StateBackingOff, min(max(de.Backoff(), time.Second), maxBackoff)
	case dexcom.ActionOperator:
		o.State, o.Warning, o.Retry = StateError, de.Advice().EN, true
		d.s.log.WarnContext(ctx, "connsync: Dexcom needs the operator", "kind", de.Kind.String(), "err", de.Error())
	default:
		o.State, o.Retry = StateError, true
	}
	return o
}
