package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/connectors/connsync"
	"fsecgm/connectors/librelinkup"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The operator's commands on LibreLinkUp: the region's follower account
// (fsecgm follower-account) and the connections found following someone
// other than their patient (fsecgm bindings).

// EnvFollowerPassword holds the follower account's password for
// "fsecgm follower-account add|set-credentials" (else it is read from the
// first line of standard input), so that it never appears in a command
// line or a shell history.
const EnvFollowerPassword = "FSECGM_FOLLOWER_PASSWORD"

// operatorSyncer opens the database and a Syncer configured from the
// environment (the credentials key above all), for an operator command
// with the usual --database-url, --data-dir and --dev flags.
func operatorSyncer(ctx context.Context, e *env, dbURL, dataDir string, dev bool) (*connsync.Syncer, *pgxpool.Pool, func(), error) {
	pool, done, err := openDatabase(ctx, e, dbURL, dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	logger := slog.New(slog.NewJSONHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := cgmstore.New(pool, cgmstore.Options{Logger: logger})
	syncer, err := connsync.NewFromEnv(e.Getenv, connsync.EnvOptions{Dev: dev, DataDir: filepath.Dir(dataDir)}, pool, store, logger)
	if err != nil {
		done()
		return nil, nil, nil, usageError(err)
	}
	return syncer, pool, done, nil
}

// runFollowerAccount configures the region's LibreLinkUp follower account,
// with which patients share their data from the LibreLink app. While none
// is configured the taccuino does not offer that mode.
func runFollowerAccount(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return verbUsage(e, args, "fsecgm follower-account add|set-credentials|list [flags]",
			"Configures the region's LibreLinkUp follower account; \"fsecgm follower-account add --help\" lists the flags.")
	}
	verb := args[0]
	fs := newFlagSet(e, "follower-account "+verb, "[--name NAME] [--email EMAIL] [--region REGION] [--database-url URL]\n\n"+
		"add: store the region's follower account after one login (the password from $"+EnvFollowerPassword+
		" or the first line of standard input), encrypted with the credentials key like every LibreLinkUp secret.\n"+
		"set-credentials: replace its credentials after one login. list: show the follower accounts.")
	name := fs.String("name", "Regione Toscana", "the operator's `name` of the account")
	email := fs.String("email", "", "the account's LibreLinkUp `e-mail`")
	region := fs.String("region", "", "LibreLinkUp `region` of the account, for reference (logins follow LibreLinkUp's redirect)")
	dbURL := fs.String("database-url", "", "PostgreSQL `URL` (default $DATABASE_URL; when neither is set, the private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	dev := fs.Bool("dev", false, "development mode: the credentials key file beside the data directory")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch verb {
	case "add", "set-credentials":
		if strings.TrimSpace(*email) == "" {
			return usageError(errors.New("--email is required"))
		}
	case "list":
	default:
		return usageError(fmt.Errorf("unknown action %q: want add, set-credentials or list", verb))
	}
	syncer, pool, done, err := operatorSyncer(ctx, e, *dbURL, *dataDir, *dev)
	if err != nil {
		return err
	}
	defer done()
	var acc connsync.FollowerAccount
	switch verb {
	case "list":
		accs, err := syncer.FollowerAccounts(ctx, pool)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATE\tCONNECTIONS\tPENDING\tLAST LIST")
		for _, a := range accs {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", a.Name, a.State, a.Connections, a.Pending, stamp(a.LastListAt))
		}
		return w.Flush()
	case "add", "set-credentials":
		password := strings.TrimSpace(e.Getenv(EnvFollowerPassword))
		if password == "" {
			line, err := bufio.NewReader(e.Stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read the password from standard input: %w", err)
			}
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			return usageError(fmt.Errorf("no password: set $%s or write it on standard input", EnvFollowerPassword))
		}
		creds := librelinkup.Credentials{Email: strings.TrimSpace(*email), Password: password}
		if verb == "add" {
			acc, err = syncer.AddFollowerAccount(ctx, *name, *region, creds)
		} else {
			acc, err = syncer.UpdateFollowerCredentials(ctx, *name, creds)
		}
		var ue *connsync.UserError
		if errors.As(err, &ue) {
			return usageError(fmt.Errorf("%s", ue.Text.EN))
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(e.Stdout, "follower account %q: %s; the taccuino offers the regional follower mode\n", acc.Name, acc.State)
	return nil
}

// runBindings lists the LibreLinkUp connections that a sync found
// following someone other than their patient, and removes the readings
// they stored, with an entry in the patient's access log.
func runBindings(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return verbUsage(e, args, "fsecgm bindings list|purge [flags]",
			"Lists the LibreLinkUp connections found following someone other than their patient, and removes the readings they stored; \"fsecgm bindings purge --help\" lists the flags.")
	}
	verb := args[0]
	fs := newFlagSet(e, "bindings "+verb, "[--json] | --connection ID --operator NAME [--force]\n\n"+
		"list: the connections a sync found following someone other than their patient.\n"+
		"purge: remove the readings such a connection stored (deleted, or restored to the value another source had\n"+
		"delivered), disconnect it, mark the patient's summaries for recomputation, and record the act in the\n"+
		"patient's access log, all in one transaction.")
	asJSON := fs.Bool("json", false, "list: print JSON instead of a table")
	conn := fs.String("connection", "", "purge: the connection's `id` (from list)")
	operator := fs.String("operator", "", "purge: the operator's `name`, shown to the patient in the access log")
	force := fs.Bool("force", false, "purge: remove even when another connection of the patient stored readings over the same window")
	dbURL := fs.String("database-url", "", "PostgreSQL `URL` (default $DATABASE_URL; when neither is set, the private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data `directory` of the private PostgreSQL used when no database URL is set")
	dev := fs.Bool("dev", false, "development mode: the credentials key file beside the data directory")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch verb {
	case "list":
	case "purge":
		if *conn == "" || strings.TrimSpace(*operator) == "" {
			return usageError(errors.New("purge needs --connection and --operator"))
		}
	default:
		return usageError(fmt.Errorf("unknown action %q: want list or purge", verb))
	}
	syncer, pool, done, err := operatorSyncer(ctx, e, *dbURL, *dataDir, *dev)
	if err != nil {
		return err
	}
	defer done()
	if verb == "list" {
		ms, err := syncer.Mismatches(ctx, pool)
		if err != nil {
			return err
		}
		return printMismatches(e.Stdout, ms, *asJSON)
	}
	var res connsync.PurgeResult
	requestID := "cli-purge-" + time.Now().UTC().Format("20060102T150405Z")
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if res, err = syncer.Purge(ctx, tx, *conn, *force); err != nil || res.AlreadyPurged {
			return err
		}
		detail := fmt.Sprintf("removal of another person's sensor readings (LibreLinkUp connection %s): %d deleted, %d restored",
			*conn, res.Removed.Deleted, res.Removed.Restored)
		return consent.RecordOperator(ctx, tx, res.Mismatch.Connection.PatientID, *operator, consent.ActWriteData, detail, requestID)
	})
	switch {
	case errors.Is(err, connsync.ErrNotFound), errors.Is(err, connsync.ErrConflict):
		return usageError(err)
	case err != nil:
		return err
	case res.AlreadyPurged:
		fmt.Fprintf(e.Stdout, "connection %s: already purged on %s (%d readings deleted)\n", *conn,
			stamp(res.Mismatch.PurgedAt), res.Mismatch.Purged)
	default:
		fmt.Fprintf(e.Stdout, "connection %s: %d readings deleted, %d restored; patient %s's access log records it\n",
			*conn, res.Removed.Deleted, res.Removed.Restored, res.Mismatch.Connection.PatientPublicID)
	}
	return nil
}

// verbUsage answers a command that takes an action first: its usage on
// standard error, with exit status 0 for -h/--help and 2 otherwise.
func verbUsage(e *env, args []string, usage, what string) error {
	fmt.Fprintf(e.Stderr, "Usage: %s\n\n%s\n", usage, what)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return flag.ErrHelp
	}
	return usageError(errors.New("an action is required"))
}

// mismatchJSON is one line of "fsecgm bindings list --json".
type mismatchJSON struct {
	Connection string     `json:"connection"`
	Patient    string     `json:"patient"`
	State      string     `json:"state"`
	DetectedAt time.Time  `json:"detected_at"`
	Oldest     *time.Time `json:"oldest_reading_at"`
	Newest     *time.Time `json:"newest_reading_at"`
	PurgedAt   *time.Time `json:"purged_at"`
	Purged     int64      `json:"purged_readings"`
}

func printMismatches(w io.Writer, ms []connsync.Mismatch, asJSON bool) error {
	if asJSON {
		out := make([]mismatchJSON, 0, len(ms))
		opt := func(t time.Time) *time.Time {
			if t.IsZero() {
				return nil
			}
			return &t
		}
		for _, m := range ms {
			out = append(out, mismatchJSON{Connection: m.Connection.ID, Patient: m.Connection.PatientPublicID,
				State: string(m.Connection.State), DetectedAt: m.DetectedAt, Oldest: opt(m.Oldest), Newest: opt(m.Newest),
				PurgedAt: opt(m.PurgedAt), Purged: m.Purged})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tPATIENT\tSTATE\tDETECTED\tREADINGS FROM\tTO\tPURGED")
	for _, m := range ms {
		purged := "no"
		if !m.PurgedAt.IsZero() {
			purged = fmt.Sprintf("%s (%d)", stamp(m.PurgedAt), m.Purged)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Connection.ID, m.Connection.PatientPublicID, m.Connection.State,
			stamp(m.DetectedAt), stamp(m.Oldest), stamp(m.Newest), purged)
	}
	return tw.Flush()
}

// stamp writes an instant for an operator (UTC, to the second), "-" when
// zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
