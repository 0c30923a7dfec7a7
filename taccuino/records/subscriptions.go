package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"fsecgm/cgm/codicefiscale"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
)

// Kind is the kind of record a subscription delivers to.
type Kind string

// The kinds of record.
const (
	// KindDiabetology: a diabetology centre's clinical record.
	KindDiabetology Kind = "diabetology"
	// KindEHR: the regional electronic health record (FSE).
	KindEHR Kind = "ehr"
	// KindMMG: general practitioners' (and family paediatricians') records.
	KindMMG Kind = "mmg"
)

// AuthKind is how fsecgm authenticates to a record server.
type AuthKind string

// The kinds of authentication.
const (
	// AuthNone: no Authorization header.
	AuthNone AuthKind = "none"
	// AuthBearer: a static bearer token, read at every delivery from the
	// environment variable or file the subscription names.
	AuthBearer AuthKind = "bearer"
	// AuthClientCredentials: an OAuth 2.0 access token from the client
	// credentials grant (RFC 6749 §4.4) at TokenURL, with ClientID and the
	// secret from the environment variable or file the subscription
	// names (HTTP Basic authentication of the client, §2.3.1), kept until
	// shortly before it expires.
	AuthClientCredentials AuthKind = "client_credentials"
)

// Auth is how fsecgm authenticates to a record server. Secrets are never
// stored: SecretEnv names an environment variable, SecretFile a file
// (e.g. a mounted Kubernetes secret), holding the bearer token or the
// client secret. Exactly one of them is set unless Kind is AuthNone.
type Auth struct {
	Kind       AuthKind `json:"kind"`
	SecretEnv  string   `json:"secret_env,omitempty"`
	SecretFile string   `json:"secret_file,omitempty"`
	// TokenURL, ClientID and Scope are for AuthClientCredentials (Scope
	// optional).
	TokenURL string `json:"token_url,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

// ScopeKind says which patients a subscription serves.
type ScopeKind string

// The kinds of patient scope.
const (
	// ScopeAll: every patient (the regional EHR).
	ScopeAll ScopeKind = "all"
	// ScopeCare: the patients with a care relationship in force of
	// CareKind (with CareParty, when set: a diabetology centre's
	// organization id, or an MMG's or PLS's fiscal code).
	ScopeCare ScopeKind = "care"
	// ScopeList: an explicit list of patients.
	ScopeList ScopeKind = "list"
)

// Scope is which patients a subscription serves. Whatever the scope, a
// patient is served only while their third-party consent is granted.
type Scope struct {
	Kind      ScopeKind        `json:"kind"`
	CareKind  consent.CareKind `json:"care_kind,omitempty"`
	CareParty string           `json:"care_party,omitempty"`
	// Patients are the internal keys of the patients of ScopeList.
	Patients []int64 `json:"patients,omitempty"`
}

// Subscription is a record server fsecgm delivers summaries to.
type Subscription struct {
	// ID is the store's key (set by the store).
	ID int64 `json:"-"`
	// Name identifies the subscription (1 to 64 of A-Z a-z 0-9 . _ -); it
	// is shown to patients in their access log.
	Name string `json:"name"`
	// Kind is the kind of record.
	Kind Kind `json:"kind"`
	// BaseURL is the server's FHIR base URL; transaction Bundles are
	// POSTed to it.
	BaseURL string `json:"base_url"`
	// Auth is how to authenticate to it.
	Auth Auth `json:"auth"`
	// Scope is which patients it serves.
	Scope Scope `json:"scope"`
	// IGOnly sends only the IG's profiles (no local figures), for a
	// receiver that accepts nothing else.
	IGOnly bool `json:"ig_only,omitempty"`
	// Active subscriptions get new summaries; an inactive one gets
	// nothing new, and its pending messages are cancelled when due.
	Active bool `json:"active"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// checkURL validates an http(s) URL without query, fragment or user.
func checkURL(what, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" ||
		p.Fragment != "" || p.User != nil || len(u) > 1024 {
		return fmt.Errorf("%s %q: want an http(s) URL without query, fragment or user", what, u)
	}
	return nil
}

// Validate reports every problem of s at once, each naming its field.
func (s Subscription) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRE.MatchString(s.Name) {
		bad("name %q: want 1 to 64 of A-Z a-z 0-9 . _ -", s.Name)
	}
	switch s.Kind {
	case KindDiabetology, KindEHR, KindMMG:
	default:
		bad("kind %q: want diabetology, ehr or mmg", s.Kind)
	}
	if err := checkURL("base_url", s.BaseURL); err != nil {
		errs = append(errs, err)
	}
	a := s.Auth
	switch a.Kind {
	case AuthNone:
		if a.SecretEnv != "" || a.SecretFile != "" || a.TokenURL != "" || a.ClientID != "" || a.Scope != "" {
			bad("auth: kind none takes no secret, token_url, client_id or scope")
		}
	case AuthBearer, AuthClientCredentials:
		if (a.SecretEnv == "") == (a.SecretFile == "") {
			bad("auth: set exactly one of secret_env (an environment variable name) and secret_file (a path)")
		}
		if a.SecretEnv != "" && !envNameRE.MatchString(a.SecretEnv) {
			bad("auth.secret_env %q: want an environment variable name", a.SecretEnv)
		}
		if len(a.SecretFile) > 1024 {
			bad("auth.secret_file: longer than 1024 characters")
		}
		if a.Kind == AuthClientCredentials {
			if err := checkURL("auth.token_url", a.TokenURL); err != nil {
				errs = append(errs, err)
			}
			if a.ClientID == "" || len(a.ClientID) > 256 {
				bad("auth.client_id: required, at most 256 characters")
			}
			if len(a.Scope) > 1024 {
				bad("auth.scope: longer than 1024 characters")
			}
		} else if a.TokenURL != "" || a.ClientID != "" || a.Scope != "" {
			bad("auth: token_url, client_id and scope are for kind client_credentials")
		}
	default:
		bad("auth.kind %q: want none, bearer or client_credentials", a.Kind)
	}
	sc := s.Scope
	switch sc.Kind {
	case ScopeAll:
		if sc.CareKind != "" || sc.CareParty != "" || len(sc.Patients) > 0 {
			bad("scope: kind all takes no care_kind, care_party or patients")
		}
	case ScopeCare:
		switch sc.CareKind {
		case consent.CareMMG, consent.CarePLS:
			if sc.CareParty != "" {
				if err := codicefiscale.Validate(codicefiscale.Normalize(sc.CareParty)); err != nil {
					bad("scope.care_party: an %s relationship's party is the practitioner's fiscal code: %v", sc.CareKind, err)
				}
			}
		case consent.CareDiabetology:
			if len(sc.CareParty) > 64 {
				bad("scope.care_party: longer than 64 characters")
			}
		default:
			bad("scope.care_kind %q: want mmg, pls or diabetology", sc.CareKind)
		}
		if len(sc.Patients) > 0 {
			bad("scope: kind care takes no patients")
		}
	case ScopeList:
		if sc.CareKind != "" || sc.CareParty != "" {
			bad("scope: kind list takes no care_kind or care_party")
		}
		for _, p := range sc.Patients {
			if p <= 0 {
				bad("scope.patients: %d is not a patient key", p)
				break
			}
		}
	default:
		bad("scope.kind %q: want all, care or list", sc.Kind)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: subscription %q: %w", ErrInvalid, s.Name, errors.Join(errs...))
	}
	return nil
}

// ParseSubscriptions reads subscriptions from a JSON array (the
// configuration file of "fsecgm serve"), e.g.
//
//	[{"name": "ehr", "kind": "ehr", "base_url": "https://fse.example/fhir",
//	  "auth": {"kind": "bearer", "secret_env": "FSECGM_EHR_TOKEN"},
//	  "scope": {"kind": "all"}},
//	 {"name": "diab-careggi", "kind": "diabetology", "base_url": "https://diab.example/fhir",
//	  "auth": {"kind": "client_credentials", "token_url": "https://diab.example/token",
//	           "client_id": "fsecgm", "secret_file": "/run/secrets/diab"},
//	  "scope": {"kind": "care", "care_kind": "diabetology", "care_party": "ORG-DIAB-1"}}]
//
// "active" defaults to true. Unknown members are errors; every
// subscription is validated, and the error names its position.
func ParseSubscriptions(data []byte) ([]Subscription, error) {
	type item struct {
		Subscription
		Active *bool `json:"active"`
	}
	var items []item
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: subscriptions: %w", ErrInvalid, err)
	}
	out := make([]Subscription, len(items))
	var errs []error
	seen := map[string]bool{}
	for i, it := range items {
		s := it.Subscription
		s.Active = it.Active == nil || *it.Active
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("subscription %d: %w", i, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%w: subscription %d: name %q repeated", ErrInvalid, i, s.Name))
		}
		seen[s.Name] = true
		out[i] = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

const subscriptionColumns = `id, name, kind, base_url, auth_kind, auth_secret_env, auth_secret_file, auth_token_url,
	auth_client_id, auth_scope, scope_kind, care_kind, care_party, ig_only, active`

func scanSubscription(row pgx.CollectableRow) (Subscription, error) {
	var s Subscription
	err := row.Scan(&s.ID, &s.Name, &s.Kind, &s.BaseURL, &s.Auth.Kind, &s.Auth.SecretEnv, &s.Auth.SecretFile,
		&s.Auth.TokenURL, &s.Auth.ClientID, &s.Auth.Scope, &s.Scope.Kind, &s.Scope.CareKind, &s.Scope.CareParty,
		&s.IGOnly, &s.Active)
	return s, err
}

// PutSubscription creates or replaces (by name) a subscription and returns
// it as stored. For ScopeList, the list of patients is replaced.
// Messages already in the outbox are not changed.
func (s *Store) PutSubscription(ctx context.Context, sub Subscription) (Subscription, error) {
	if err := sub.Validate(); err != nil {
		return Subscription{}, err
	}
	if sub.Scope.Kind == ScopeCare && sub.Scope.CareKind != consent.CareDiabetology {
		sub.Scope.CareParty = codicefiscale.Normalize(sub.Scope.CareParty)
	}
	var out Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		const up = `INSERT INTO subscriptions (name, kind, base_url, auth_kind, auth_secret_env, auth_secret_file,
				auth_token_url, auth_client_id, auth_scope, scope_kind, care_kind, care_party, ig_only, active)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, base_url = EXCLUDED.base_url,
				auth_kind = EXCLUDED.auth_kind, auth_secret_env = EXCLUDED.auth_secret_env,
				auth_secret_file = EXCLUDED.auth_secret_file, auth_token_url = EXCLUDED.auth_token_url,
				auth_client_id = EXCLUDED.auth_client_id, auth_scope = EXCLUDED.auth_scope,
				scope_kind = EXCLUDED.scope_kind, care_kind = EXCLUDED.care_kind, care_party = EXCLUDED.care_party,
				ig_only = EXCLUDED.ig_only, active = EXCLUDED.active, updated_at = now()
			RETURNING ` + subscriptionColumns
		a, sc := sub.Auth, sub.Scope
		rows, _ := tx.Query(ctx, up, sub.Name, string(sub.Kind), sub.BaseURL, string(a.Kind), a.SecretEnv, a.SecretFile,
			a.TokenURL, a.ClientID, a.Scope, string(sc.Kind), string(sc.CareKind), sc.CareParty, sub.IGOnly, sub.Active)
		var err error
		if out, err = pgx.CollectExactlyOneRow(rows, scanSubscription); err != nil {
			return fmt.Errorf("records: put subscription %q: %w", sub.Name, translate(err))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM subscription_patients WHERE subscription_id = $1`, out.ID); err != nil {
			return fmt.Errorf("records: put subscription %q: %w", sub.Name, translate(err))
		}
		if sc.Kind == ScopeList && len(sc.Patients) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO subscription_patients (subscription_id, patient_id)
				SELECT $1, unnest($2::integer[]) ON CONFLICT DO NOTHING`, out.ID, sc.Patients); err != nil {
				return fmt.Errorf("records: put subscription %q: patients: %w", sub.Name, translate(err))
			}
			out.Scope.Patients = slices.Clone(sc.Patients)
			slices.Sort(out.Scope.Patients)
			out.Scope.Patients = slices.Compact(out.Scope.Patients)
		}
		return nil
	})
	return out, err
}

// Subscriptions returns every subscription, by name.
func (s *Store) Subscriptions(ctx context.Context) ([]Subscription, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions ORDER BY name`)
	subs, err := pgx.CollectRows(rows, scanSubscription)
	if err != nil {
		return nil, fmt.Errorf("records: subscriptions: %w", translate(err))
	}
	for i := range subs {
		if subs[i].Scope.Kind != ScopeList {
			continue
		}
		if subs[i].Scope.Patients, err = s.subscriptionPatients(ctx, subs[i].ID); err != nil {
			return nil, err
		}
	}
	return subs, nil
}

func (s *Store) subscriptionPatients(ctx context.Context, id int64) ([]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT patient_id FROM subscription_patients WHERE subscription_id = $1 ORDER BY patient_id`, id)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("records: subscription patients: %w", translate(err))
	}
	return ids, nil
}

// subscription returns the subscription with key id.
func subscription(ctx context.Context, db DB, id int64) (Subscription, error) {
	rows, _ := db.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`, id)
	sub, err := pgx.CollectExactlyOneRow(rows, scanSubscription)
	if err != nil {
		return sub, fmt.Errorf("records: subscription %d: %w", id, translate(err))
	}
	return sub, nil
}

// SetActive turns a subscription on or off by name.
func (s *Store) SetActive(ctx context.Context, name string, active bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET active = $2, updated_at = now() WHERE name = $1`, name, active)
	if err != nil {
		return fmt.Errorf("records: set subscription %q active: %w", name, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("records: subscription %q: %w", name, ErrNotFound)
	}
	return nil
}

// servingQuery selects the active subscriptions that serve patient $1 at
// instant $2 by their scope (the third-party consent is checked apart).
const servingQuery = `SELECT s.id, s.ig_only FROM subscriptions s
	WHERE s.active AND (s.scope_kind = 'all'
		OR (s.scope_kind = 'list' AND EXISTS (SELECT 1 FROM subscription_patients sp
			WHERE sp.subscription_id = s.id AND sp.patient_id = $1))
		OR (s.scope_kind = 'care' AND EXISTS (SELECT 1 FROM care_relationships c
			JOIN patients p ON p.fiscal_code = c.patient_fiscal_code
			WHERE p.id = $1 AND c.kind = s.care_kind AND (s.care_party = '' OR c.party = s.care_party)
				AND (c.valid_from IS NULL OR c.valid_from <= $2) AND (c.valid_to IS NULL OR c.valid_to > $2))))`

// serving returns the keys of the active subscriptions serving patient
// now, and whether each wants the IG's profiles only.
func serving(ctx context.Context, db DB, patient int64, now time.Time) (ids []int64, igOnly []bool, err error) {
	rows, err := db.Query(ctx, servingQuery+` ORDER BY s.id`, patient, now)
	if err != nil {
		return nil, nil, fmt.Errorf("records: subscriptions serving patient %d: %w", patient, translate(err))
	}
	var id int64
	var ig bool
	_, err = pgx.ForEachRow(rows, []any{&id, &ig}, func() error {
		ids, igOnly = append(ids, id), append(igOnly, ig)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("records: subscriptions serving patient %d: %w", patient, translate(err))
	}
	return ids, igOnly, nil
}

// serves reports whether subscription sub (active) serves patient now.
func serves(ctx context.Context, db DB, sub, patient int64, now time.Time) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (`+servingQuery+` AND s.id = $3)`, patient, now, sub).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("records: does subscription %d serve patient %d: %w", sub, patient, translate(err))
	}
	return ok, nil
}

// consentGranted reports whether the patient's third-party consent is
// granted (no row: never granted).
func consentGranted(ctx context.Context, db DB, patient int64) (bool, error) {
	var granted bool
	err := db.QueryRow(ctx, `SELECT granted FROM third_party_consents WHERE patient_id = $1`, patient).Scan(&granted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("records: third-party consent of patient %d: %w", patient, translate(err))
	}
	return granted, nil
}

// displayName is how a subscription appears in the patient's access log.
func (s Subscription) displayName() string {
	k := map[Kind]string{KindDiabetology: "diabetology record", KindEHR: "health record (FSE)", KindMMG: "GP record"}[s.Kind]
	return strings.TrimSpace("fsecgm delivery to " + s.Name + " (" + k + ")")
}
