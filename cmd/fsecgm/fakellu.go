package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"fsecgm/connectors/connsync"
	"fsecgm/connectors/glucosim"
	"fsecgm/connectors/librelinkup"
	"fsecgm/connectors/librelinkup/librelinkuptest"
	"fsecgm/taccuino"
)

// runFakeLibreLinkUp runs a fake LibreLinkUp with simulated patients until
// ctx is cancelled (SIGINT, SIGTERM), after printing its demo accounts.
func runFakeLibreLinkUp(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fake-librelinkup", "[--addr ADDR] [--patients N] [--followers N] [--seed S]")
	addr := fs.String("addr", "127.0.0.1:8091", "listen address (port 0 picks a free port)")
	patients := fs.Int("patients", 10, "number of simulated patients (each with an account that follows themselves)")
	followers := fs.Int("followers", 1, "number of regional follower accounts sharing the patients")
	seed := fs.Uint64("seed", 1, "seed of the simulation: the same seed gives the same patients, passwords and glucose")
	region := fs.String("region", "eu", "home region of the accounts (logins elsewhere are redirected there)")
	minVersion := fs.String("min-version", librelinkuptest.DefaultMinVersion, "minimum app version of the data calls (lower versions get 403/920)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *patients < 0 || *patients > 100000:
		return usageError(fmt.Errorf("--patients %d: want 0 to 100000", *patients))
	case *followers < 0 || *followers > 1000:
		return usageError(fmt.Errorf("--followers %d: want 0 to 1000", *followers))
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
	fake := librelinkuptest.New(librelinkuptest.Options{MinVersion: *minVersion, Logger: logger})
	accounts, err := fake.Populate(*seed, *patients, *followers, *region)
	if err != nil {
		return usageError(err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	printAccounts(e, fake, accounts, base)

	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	logger.Info("fake LibreLinkUp listening", "url", librelinkuptest.TemplateURL(base))
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("fake LibreLinkUp stopped", "requests", fake.Requests())
	return nil
}

// printAccounts writes how to reach the fake and its demo accounts: all
// invented, so printing the passwords is the point.
func printAccounts(e *env, fake *librelinkuptest.Server, accounts []librelinkuptest.Account, base string) {
	fmt.Fprintf(e.Stdout, "Fake LibreLinkUp on %s (all regions under /{region}, the global host under /global).\n", base)
	fmt.Fprintf(e.Stdout, "Point fsecgm at it with:\n\n  FSECGM_LIBRELINKUP_URL=%s\n\n", librelinkuptest.TemplateURL(base))
	fmt.Fprintf(e.Stdout, "Demo accounts (invented people; the sensor is the serial shown in the patient's app now):\n\n")
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "E-MAIL\tPASSWORD\tREGION\tFOLLOWS")
	now := time.Now()
	for _, a := range accounts {
		var follows string
		if len(a.Follows) == 1 {
			if p, ok := fake.Patient(a.Follows[0]); ok {
				follows = fmt.Sprintf("%s %s, %s, %s, sensor %s", p.FirstName, p.LastName, p.Sim.Model(), unitName(p), printedSerial(p.Sim, now))
			}
		} else {
			follows = fmt.Sprintf("%d patients", len(a.Follows))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Email, a.Password, a.Region, follows)
	}
	tw.Flush()
	fmt.Fprintln(e.Stdout)
}

func unitName(p librelinkuptest.Patient) string {
	if p.Unit == 0 {
		return "mg/dL"
	}
	return p.Unit.String()
}

// printedSerial returns the serial the patient's app shows for the sensor
// worn at t: "3" + sn for Libre 2, sn without its final "0" for Libre 3
// (gui-dos/DiaBLE, DiaBLE/LibreLink.swift; JohanDegraeve/xdripswift,
// LibreLinkUpFollowManager.swift).
func printedSerial(sim *glucosim.Patient, t time.Time) string {
	s, ok := sim.SensorAt(t)
	if !ok {
		return "none (sensor change)"
	}
	if sim.Model() == glucosim.Libre2 {
		return "3" + s.Serial
	}
	return strings.TrimSuffix(s.Serial, "0")
}

// demoRegionalAccount is the fake LibreLinkUp account that plays the
// region's follower account in development mode.
const demoRegionalAccount = "regione01@example.invalid"

// populateDemo fills the development fake LibreLinkUp (fsecgm serve --dev):
// an account that follows each demo patient with the sensor whose readings
// the demo stores (Mario's own; Anna's, following her daughter Giulia), one
// account that follows someone else ("paziente0001", following Marco
// Bianchi: connecting it to Mario is refused, as it must be), and the
// regional follower account, which follows all three.
func populateDemo(fake *librelinkuptest.Server) ([]librelinkuptest.Account, error) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return nil, err
	}
	var accounts []librelinkuptest.Account
	var followed []string
	for _, ds := range taccuino.DemoSensors() {
		id, err := fake.AddPatient(librelinkuptest.Patient{FirstName: ds.GivenName, LastName: ds.FamilyName,
			Sim: glucosim.New(ds.Seed, glucosim.Libre2, rome)})
		if err != nil {
			return nil, err
		}
		a := librelinkuptest.Account{Email: ds.HolderEmail, Password: "Demo-" + ds.HolderGiven + "-2026", Region: "eu",
			FirstName: ds.HolderGiven, LastName: ds.HolderFamily, Follows: []string{id}, FiscalCode: ds.FiscalCode}
		if err := fake.AddAccount(a); err != nil {
			return nil, err
		}
		accounts = append(accounts, a)
		followed = append(followed, id)
	}
	others, err := fake.Populate(1, 1, 0, "eu")
	if err != nil {
		return nil, err
	}
	accounts = append(accounts, others...)
	for _, o := range others {
		followed = append(followed, o.Follows...)
	}
	region := librelinkuptest.Account{Email: demoRegionalAccount, Password: "Demo-Regione-2026", Region: "eu",
		FirstName: "Regione", LastName: "Toscana", Follows: followed}
	if err := fake.AddAccount(region); err != nil {
		return nil, err
	}
	return append(accounts, region), nil
}

// configureDemoFollower makes the fake's regional account the region's
// follower account (what "fsecgm follower-account add" does in production)
// when none is configured yet, so that the demo offers that mode too.
func configureDemoFollower(ctx context.Context, syncer *connsync.Syncer, pool connsync.DB, accounts []librelinkuptest.Account) error {
	if ok, err := syncer.FollowerModeAvailable(ctx, pool); err != nil || ok {
		return err
	}
	for _, a := range accounts {
		if a.Email == demoRegionalAccount {
			_, err := syncer.AddFollowerAccount(ctx, "Regione Toscana (demo)", "eu",
				librelinkup.Credentials{Email: a.Email, Password: a.Password})
			return err
		}
	}
	return nil
}
