package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/notify"
)

// runNotifications is "fsecgm notifications": the operator's view of the
// access-notification outbox. "list" prints the messages (by default the
// dead ones: failed MaxAttempts times, or handed to the SMTP server twice
// without a reply); "resend ID" puts a dead message back in the outbox.
// Messages are shown by id, patient id, kind, key, state and last error:
// never their text or recipient.
func runNotifications(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "notifications", "list [--state dead|pending|sent|bounced|cancelled|all] | resend ID\n\n"+
		"Lists the access-notification messages (default: the dead ones, waiting for the operator), or puts a dead one back in the outbox.")
	dbURL := fs.String("database-url", "", "PostgreSQL URL of the database (default $DATABASE_URL; when neither is set, a private server in --data-dir)")
	dataDir := fs.String("data-dir", defaultDataDir, "data directory of the private PostgreSQL used when no database URL is set")
	state := fs.String("state", string(notify.MessageDead), "the state to list, or all")
	verb, rest := "list", args // flags alone (--help, --state) list
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, rest = args[0], args[1:]
	}
	var id int64
	if verb == "resend" {
		if len(rest) == 0 {
			return usageError(errors.New("resend: want the id of a message (fsecgm notifications list)"))
		}
		n, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil || n <= 0 {
			return usageError(fmt.Errorf("resend: %q is not a message id", rest[0]))
		}
		id, rest = n, rest[1:]
	} else if verb != "list" {
		return usageError(fmt.Errorf("unknown verb %q: want list or resend ID", verb))
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	st := notify.MessageState(*state)
	switch st {
	case "all":
		st = ""
	case notify.MessageDead, notify.MessagePending, notify.MessageSent, notify.MessageBounced, notify.MessageCancelled:
	default:
		return usageError(fmt.Errorf("--state %q: want dead, pending, sent, bounced, cancelled or all", *state))
	}
	pool, done, err := openDatabase(ctx, e, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer done()
	store := notify.New(pool, consent.New(pool, consent.Options{}), notify.Options{})
	if verb == "resend" {
		if err := store.Resend(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "message %d is pending again\n", id)
		return nil
	}
	ms, err := store.Messages(ctx, notify.MessageFilter{State: st})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPATIENT\tKIND\tKEY\tACCESSES\tSTATE\tATTEMPTS\tHANDOFFS\tCREATED\tLAST ERROR")
	for _, m := range ms {
		fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\n", m.ID, m.PatientID, m.Kind, m.Key, m.Accesses, m.State, m.Attempts,
			m.Handoffs, m.CreatedAt.Format("2006-01-02 15:04:05Z"), m.LastError)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%d messages\n", len(ms))
	return nil
}
