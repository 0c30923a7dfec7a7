package librelinkup

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorKind classifies a failed LibreLinkUp call. Every error the client
// returns for a call that reached (or tried to reach) the server is an
// [*Error] carrying one of these kinds; [KindOf] extracts it.
type ErrorKind uint8

// The kinds of failure, as the open-source clients meet them
// (timoschlueter/nightscout-librelink-up, robberwick/pylibrelinkup,
// pachi81/GlucoDataHandler, gui-dos/DiaBLE, and their issue trackers).
const (
	// KindBadCredentials: login answered status 2 (wrong e-mail or
	// password). Retrying can lock the patient's account: stop until the
	// credentials change.
	KindBadCredentials ErrorKind = iota + 1
	// KindStepRequired: login answered status 4 with a step (tou, pp,
	// verifyEmail) the account holder must complete in the app. The client
	// never accepts on the patient's behalf.
	KindStepRequired
	// KindLocked: login answered the status 429 "locked" body (3 failures
	// within 60 s lock the account for 300 s).
	KindLocked
	// KindRateLimited: HTTP 429 Too Many Requests (JSON or empty body).
	KindRateLimited
	// KindVersionTooOld: HTTP 403 with status 920 and minimumVersion, still
	// after one retry with the version the server asked for.
	KindVersionTooOld
	// KindUnauthorized: HTTP 401 (invalid or expired token), still after one
	// new login, or with no credentials to log in again.
	KindUnauthorized
	// KindServerError: HTTP 5xx.
	KindServerError
	// KindTimeout: no complete answer within the HTTP client's timeout.
	KindTimeout
	// KindNetwork: the server could not be reached (DNS, connection
	// refused or reset).
	KindNetwork
	// KindHTMLPage: an HTML page instead of JSON, such as a Cloudflare
	// block or rate-limit page (403 or 429).
	KindHTMLPage
	// KindMalformedJSON: a body that is not valid JSON, is truncated, is too
	// large, or lacks a field the client needs.
	KindMalformedJSON
	// KindPatientNotFound: status 4 "couldNotLoadPatient" on graph or
	// logbook: the account does not (or no longer) follow that patient.
	KindPatientNotFound
	// KindMaintenance: status 911 (maintenance, or a stranger regional
	// server).
	KindMaintenance
	// KindRequiredHeaderMissing: HTTP 400 "RequiredHeaderMissing": the API
	// now wants a header this client does not send (or the session has no
	// Account-Id).
	KindRequiredHeaderMissing
	// KindWrongRegion: the login was redirected to a region the configured
	// URL cannot reach, or redirected more than once.
	KindWrongRegion
	// KindUnexpected: an answer this client does not know (an unknown
	// status, or an HTTP status outside the catalogue).
	KindUnexpected
	// KindLoginRefused: login answered HTTP 430, or 403 with an empty
	// body, with no reason given. Reported from September 2024 to 2026 by
	// several clients; the users who fixed it accepted new legal documents
	// in the app or, in February 2026, on the LibreView website
	// (gillesvs/librelink #31, #36, #39, #44, #50, #51, #70;
	// timoschlueter/nightscout-librelink-up #212). Action needed, not a
	// transient error.
	KindLoginRefused
	// KindTwoFactor: login answered status 0 without a token
	// (data.authTicket missing or empty): LibreView asks this account for
	// a two-factor code, which no unattended client can give
	// (gillesvs/librelink #28; PTST/LibreView-HomeAssistant #40).
	KindTwoFactor
)

var kindNames = [...]string{
	KindBadCredentials:        "bad credentials",
	KindStepRequired:          "step required",
	KindLocked:                "account locked",
	KindRateLimited:           "rate limited",
	KindVersionTooOld:         "app version too old",
	KindUnauthorized:          "unauthorized",
	KindServerError:           "server error",
	KindTimeout:               "timeout",
	KindNetwork:               "network error",
	KindHTMLPage:              "HTML page instead of JSON",
	KindMalformedJSON:         "malformed JSON",
	KindPatientNotFound:       "patient not found",
	KindMaintenance:           "maintenance (status 911)",
	KindRequiredHeaderMissing: "required header missing",
	KindWrongRegion:           "wrong region",
	KindUnexpected:            "unexpected answer",
	KindLoginRefused:          "login refused (action needed)",
	KindTwoFactor:             "two-factor authentication",
}

// String returns a short English name of the kind.
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// Action is what the caller (the scheduled sync) should do after a failure.
type Action uint8

// The actions, from the mildest.
const (
	// ActionRetry: a transient failure; try again at the next scheduled sync.
	ActionRetry Action = iota + 1
	// ActionBackOff: make no request for this account before
	// [Error.Backoff] has passed.
	ActionBackOff
	// ActionLogin: the token is no longer accepted; log in again (at most
	// once) with the stored credentials, or ask for them.
	ActionLogin
	// ActionRelink: the connection is gone; list the connections again and
	// show the connection as unshared until it reappears.
	ActionRelink
	// ActionWaitPatient: the account holder must act in the LibreLink or
	// LibreLinkUp app (accept terms, verify the e-mail). Logging in again is
	// harmless (the password is right) but useless until they do: retry
	// rarely, or when the patient says it is done.
	ActionWaitPatient
	// ActionStopCredentials: never log in again with these credentials;
	// wait until they change. Each further attempt counts towards the
	// account lockout.
	ActionStopCredentials
	// ActionOperator: fsecgm's configuration or code must change (version,
	// headers, region URL); alert the operator. Retrying later is harmless.
	ActionOperator
)

var actionNames = [...]string{
	ActionRetry:           "retry",
	ActionBackOff:         "back off",
	ActionLogin:           "log in again",
	ActionRelink:          "list connections again",
	ActionWaitPatient:     "wait for the patient",
	ActionStopCredentials: "stop until the credentials change",
	ActionOperator:        "alert the operator",
}

// String returns a short English name of the action.
func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Action returns what the caller should do after a failure of kind k.
func (k ErrorKind) Action() Action {
	switch k {
	case KindBadCredentials:
		return ActionStopCredentials
	case KindStepRequired, KindLoginRefused, KindTwoFactor:
		return ActionWaitPatient
	case KindLocked, KindRateLimited, KindHTMLPage, KindMaintenance:
		return ActionBackOff
	case KindUnauthorized:
		return ActionLogin
	case KindPatientNotFound:
		return ActionRelink
	case KindVersionTooOld, KindRequiredHeaderMissing, KindWrongRegion:
		return ActionOperator
	}
	return ActionRetry
}

// Default waits when the server gives none. Five minutes after a rate limit
// is GlucoDataHandler's practice; the lockout lasts 300 s by its own body
// (pachi81/GlucoDataHandler, LibreLinkSourceTask.kt;
// timoschlueter/nightscout-librelink-up issues #146 and #218).
const (
	DefaultLockout         = 300 * time.Second
	DefaultRateLimitWait   = 5 * time.Minute
	DefaultHTMLPageWait    = 15 * time.Minute
	DefaultMaintenanceWait = 15 * time.Minute
	// MaxRetryAfter caps a server's Retry-After, so that a bogus header
	// cannot stop a connection for days.
	MaxRetryAfter = 6 * time.Hour
)

// Text is a message for people, in Italian and English.
type Text struct {
	IT string
	EN string
}

// In returns the text in language lang ("it" or "en"; Italian otherwise).
func (t Text) In(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return t.EN
	}
	return t.IT
}

var advice = [...]Text{
	KindBadCredentials: {
		IT: "LibreLinkUp ha rifiutato e-mail o password. fsecgm non riprova con queste credenziali, per non far bloccare l'account: inserire le credenziali LibreLinkUp corrette (stessa regione dell'app del paziente, invito accettato nell'app LibreLinkUp).",
		EN: "LibreLinkUp rejected the e-mail or password. fsecgm does not try these credentials again, so that the account is not locked: enter the correct LibreLinkUp credentials (same region as the patient's app, invitation accepted in the LibreLinkUp app).",
	},
	KindStepRequired: {
		IT: "Serve un'azione nell'app LibreLink/LibreLinkUp: aprire l'app, accedere e completare il passaggio richiesto (accettare condizioni d'uso o informativa privacy, verificare l'e-mail). fsecgm non accetta mai al posto del paziente.",
		EN: "Action needed in the LibreLink/LibreLinkUp app: open the app, log in and complete the requested step (accept the terms of use or privacy policy, verify the e-mail). fsecgm never accepts on the patient's behalf.",
	},
	KindLocked: {
		IT: "LibreLinkUp ha bloccato l'account per alcuni minuti dopo accessi falliti. fsecgm attende la fine del blocco prima di riprovare; verificare che nessun'altra app usi lo stesso account con una password sbagliata.",
		EN: "LibreLinkUp locked the account for a few minutes after failed logins. fsecgm waits for the lock to end before trying again; check that no other app uses the same account with a wrong password.",
	},
	KindRateLimited: {
		IT: "Troppe richieste: LibreLinkUp chiede di rallentare. fsecgm attende (Retry-After, altrimenti 5 minuti). Se si ripete, allungare l'intervallo di sincronizzazione e verificare che nessun'altra app interroghi lo stesso account.",
		EN: "Too many requests: LibreLinkUp asks to slow down. fsecgm waits (Retry-After, otherwise 5 minutes). If it repeats, lengthen the sync interval and check that no other app polls the same account.",
	},
	KindVersionTooOld: {
		IT: "LibreLinkUp richiede una versione dell'app più recente e il nuovo tentativo con la versione indicata non è bastato. L'operatore deve aggiornare la versione LibreLinkUp configurata o aggiornare fsecgm.",
		EN: "LibreLinkUp requires a newer app version and retrying with the version it named did not help. The operator must update the configured LibreLinkUp version or upgrade fsecgm.",
	},
	KindUnauthorized: {
		IT: "LibreLinkUp non accetta più il token (scaduto o revocato). fsecgm accede di nuovo una volta con le credenziali salvate; se non ne ha, reinserirle.",
		EN: "LibreLinkUp no longer accepts the token (expired or revoked). fsecgm logs in again once with the stored credentials; if it has none, enter them again.",
	},
	KindServerError: {
		IT: "LibreLinkUp ha risposto con un errore del server. Nessuna azione: fsecgm riprova alla prossima sincronizzazione.",
		EN: "LibreLinkUp answered with a server error. Nothing to do: fsecgm tries again at the next sync.",
	},
	KindTimeout: {
		IT: "LibreLinkUp non ha risposto in tempo. fsecgm riprova alla prossima sincronizzazione; se persiste, controllare la rete.",
		EN: "LibreLinkUp did not answer in time. fsecgm tries again at the next sync; if it persists, check the network.",
	},
	KindNetwork: {
		IT: "LibreLinkUp non è raggiungibile (rete o DNS). Controllare la connessione del servizio e l'URL configurato.",
		EN: "LibreLinkUp cannot be reached (network or DNS). Check the service's network connection and the configured URL.",
	},
	KindHTMLPage: {
		IT: "La protezione di LibreLinkUp (Cloudflare) ha risposto con una pagina web invece dei dati: le richieste sono bloccate o limitate. fsecgm attende; se persiste, allungare l'intervallo di sincronizzazione.",
		EN: "LibreLinkUp's protection (Cloudflare) answered with a web page instead of data: requests are blocked or rate limited. fsecgm waits; if it persists, lengthen the sync interval.",
	},
	KindMalformedJSON: {
		IT: "La risposta di LibreLinkUp era incompleta o non valida. Non è stato salvato nulla; fsecgm riprova alla prossima sincronizzazione. Se persiste, l'API potrebbe essere cambiata: avvisare gli sviluppatori.",
		EN: "LibreLinkUp's answer was incomplete or invalid. Nothing was stored; fsecgm tries again at the next sync. If it persists, the API may have changed: tell the developers.",
	},
	KindPatientNotFound: {
		IT: "LibreLinkUp non trova questo paziente per questo account: il paziente ha smesso di condividere o la connessione è cambiata. Il paziente può condividere di nuovo dall'app LibreLink.",
		EN: "LibreLinkUp does not find this patient for this account: the patient stopped sharing or the connection changed. The patient can share again from the LibreLink app.",
	},
	KindMaintenance: {
		IT: "LibreLinkUp è in manutenzione o l'account appartiene a un'altra regione (stato 911). fsecgm riprova più tardi; se persiste, verificare la regione dell'account.",
		EN: "LibreLinkUp is under maintenance or the account belongs to another region (status 911). fsecgm tries again later; if it persists, check the account's region.",
	},
	KindRequiredHeaderMissing: {
		IT: "LibreLinkUp segnala un'intestazione obbligatoria mancante: l'API è cambiata. Gli sviluppatori devono aggiornare fsecgm.",
		EN: "LibreLinkUp reports a missing required header: the API has changed. The developers must update fsecgm.",
	},
	KindWrongRegion: {
		IT: "LibreLinkUp ha rimandato l'accesso a una regione che l'URL configurato non raggiunge. Controllare FSECGM_LIBRELINKUP_URL (usare il segnaposto {region}) o il paese dell'account.",
		EN: "LibreLinkUp redirected the login to a region the configured URL cannot reach. Check FSECGM_LIBRELINKUP_URL (use the {region} placeholder) or the account's country.",
	},
	KindUnexpected: {
		IT: "LibreLinkUp ha risposto in un modo che fsecgm non conosce. fsecgm riprova alla prossima sincronizzazione; se persiste, avvisare gli sviluppatori.",
		EN: "LibreLinkUp answered in a way fsecgm does not know. fsecgm tries again at the next sync; if it persists, tell the developers.",
	},
	KindLoginRefused: {
		IT: "LibreLinkUp rifiuta l'accesso senza dire perché: di solito ci sono nuovi documenti da accettare. Accedere all'app LibreLink o LibreLinkUp e accettarli; se l'app non li propone, accedere al sito LibreView (www.libreview.com) con lo stesso account e accettarli lì. Poi premere \"Sincronizza ora\": fsecgm non riprova da solo a ogni sincronizzazione, ma solo ogni ora.",
		EN: "LibreLinkUp refuses the login without a reason: usually there are new documents to accept. Log in to the LibreLink or LibreLinkUp app and accept them; if the app does not show them, log in to the LibreView website (www.libreview.com) with the same account and accept them there. Then press \"Sync now\": fsecgm does not retry at every sync by itself, only once an hour.",
	},
	KindTwoFactor: {
		IT: "LibreView chiede un codice di verifica (autenticazione a due fattori) per questo account, e fsecgm non può inserirlo al posto del paziente. Usare un account LibreLinkUp dedicato al collegamento con il fascicolo (invitato dall'app LibreLink) senza verifica a due fattori, oppure condividere i dati con l'account regionale.",
		EN: "LibreView asks for a verification code (two-factor authentication) for this account, and fsecgm cannot enter it on the patient's behalf. Use a LibreLinkUp account dedicated to the health record link (invited from the LibreLink app) without two-factor verification, or share the data with the regional account.",
	},
}

// Advice returns what to do about a failure of kind k, for the operator and
// the patient, in Italian and English.
func (k ErrorKind) Advice() Text {
	if int(k) < len(advice) {
		return advice[k]
	}
	return advice[KindUnexpected]
}

// Error is a failed LibreLinkUp call. It never holds a token, a password or
// a glucose value.
type Error struct {
	// Kind classifies the failure.
	Kind ErrorKind
	// Op is the call that failed: "login", "connections", "graph" or
	// "logbook".
	Op string
	// HTTPStatus is the HTTP status of the answer (0 when none came).
	HTTPStatus int
	// Status is the `status` field of the JSON body (0 when absent).
	Status int
	// RetryAfter is the wait the server asked for (Retry-After, or the
	// lockout of a "locked" body); 0 when it gave none.
	RetryAfter time.Duration
	// MinimumVersion is the version a 920 answer asked for.
	MinimumVersion string
	// Step is the pending step of a status 4 login: "tou", "pp",
	// "verifyEmail" (or another the server names).
	Step string
	// Message is the server's short error message, if any (for example
	// "notAuthenticated", "couldNotLoadPatient", the title of an HTML page).
	Message string
	// Err is the underlying error (network, JSON syntax), if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("librelinkup: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Step != "" {
		fmt.Fprintf(&b, " %q", e.Step)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (status %d)", e.Status)
	}
	if e.MinimumVersion != "" {
		fmt.Fprintf(&b, ", minimum version %s", e.MinimumVersion)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Action returns what the caller should do; see [ErrorKind.Action].
func (e *Error) Action() Action { return e.Kind.Action() }

// Backoff returns how long to make no request for the account: the
// server's RetryAfter when it gave one, else a default for the kind (0 for
// kinds that need no wait).
func (e *Error) Backoff() time.Duration {
	if e.RetryAfter > 0 {
		return e.RetryAfter
	}
	switch e.Kind {
	case KindLocked:
		return DefaultLockout
	case KindRateLimited:
		return DefaultRateLimitWait
	case KindHTMLPage:
		return DefaultHTMLPageWait
	case KindMaintenance:
		return DefaultMaintenanceWait
	}
	return 0
}

// Advice returns what to do, as [ErrorKind.Advice], made precise for the
// step of a [KindStepRequired] error.
func (e *Error) Advice() Text {
	if e.Kind != KindStepRequired {
		return e.Kind.Advice()
	}
	switch e.Step {
	case "tou":
		return Text{
			IT: "Serve un'azione nell'app LibreLink/LibreLinkUp: aprire l'app, accedere e accettare le nuove condizioni d'uso (se l'app non le propone, accettarle sul sito LibreView, www.libreview.com, con lo stesso account). fsecgm non accetta mai al posto del paziente.",
			EN: "Action needed in the LibreLink/LibreLinkUp app: open the app, log in and accept the new terms of use (if the app does not show them, accept them on the LibreView website, www.libreview.com, with the same account). fsecgm never accepts on the patient's behalf.",
		}
	case "pp":
		return Text{
			IT: "Serve un'azione nell'app LibreLink/LibreLinkUp: aprire l'app, accedere e accettare la nuova informativa sulla privacy (se l'app non la propone, accettarla sul sito LibreView, www.libreview.com, con lo stesso account). fsecgm non accetta mai al posto del paziente.",
			EN: "Action needed in the LibreLink/LibreLinkUp app: open the app, log in and accept the new privacy policy (if the app does not show it, accept it on the LibreView website, www.libreview.com, with the same account). fsecgm never accepts on the patient's behalf.",
		}
	case "verifyEmail":
		return Text{
			IT: "Serve un'azione nell'app LibreLink/LibreLinkUp: verificare l'indirizzo e-mail dell'account seguendo il messaggio ricevuto da Abbott, poi accedere all'app.",
			EN: "Action needed in the LibreLink/LibreLinkUp app: verify the account's e-mail address by following Abbott's message, then log in to the app.",
		}
	}
	return e.Kind.Advice()
}

// KindOf returns the kind of a LibreLinkUp error anywhere in err's chain,
// or 0 when err is nil or not an [*Error] (a cancelled context, a bad
// argument).
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
