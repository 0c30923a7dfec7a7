package librelinkuptest

import (
	"fmt"
	"time"

	"fsecgm/cgm"
	"fsecgm/cgm/codicefiscale"
	"fsecgm/connectors/glucosim"
)

// Populate adds n simulated patients living in Europe/Rome and returns the
// accounts it created: one per patient, following themselves
// ("paziente0001@example.invalid"), then `followers` regional follower
// accounts ("regione01@example.invalid") among which the patients are shared
// round-robin. Patients alternate Libre 3 and Libre 2; every tenth uses
// mmol/L. Everything, passwords included, is derived from seed, so a demo is
// reproducible. All accounts live in region.
func (s *Server) Populate(seed uint64, n, followers int, region string) ([]Account, error) {
	if n < 0 || followers < 0 {
		return nil, fmt.Errorf("librelinkuptest: populate: negative count")
	}
	if region == "" {
		region = "eu"
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return nil, fmt.Errorf("librelinkuptest: populate: %w", err)
	}
	// Made-up names for demo patients.
	demoFirst := [...]string{"Giulia", "Marco", "Sofia", "Luca", "Chiara", "Matteo", "Elena", "Andrea",
		"Sara", "Paolo", "Anna", "Davide", "Francesca", "Simone", "Laura", "Stefano"}
	demoLast := [...]string{"Rossi", "Bianchi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci",
		"Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Giordano"}
	var accounts []Account
	ids := make([]string, n)
	for i := range n {
		model := glucosim.Libre3
		if i%2 == 1 {
			model = glucosim.Libre2
		}
		unit := cgm.MgDL
		if i%10 == 9 {
			unit = cgm.MmolL
		}
		first, last := demoFirst[(i+int(seed))%len(demoFirst)], demoLast[(i/len(demoFirst)+i*7+int(seed))%len(demoLast)]
		id, err := s.AddPatient(Patient{
			FirstName: first, LastName: last, Unit: unit,
			Sim: glucosim.New(seed*1_000_003+uint64(i), model, rome),
		})
		if err != nil {
			return nil, err
		}
		ids[i] = id
		a := Account{
			Email: fmt.Sprintf("paziente%04d@example.invalid", i+1), Password: demoPassword(seed, "p", i),
			Region: region, FirstName: first, LastName: last, Unit: unit, Follows: []string{id},
			FiscalCode: simulatedFiscalCode(first, last, i),
		}
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
		accounts = append(accounts, a)
	}
	for j := range followers {
		a := Account{
			Email: fmt.Sprintf("regione%02d@example.invalid", j+1), Password: demoPassword(seed, "r", j),
			Region: region, FirstName: "Regione", LastName: fmt.Sprintf("Toscana %d", j+1),
		}
		for i := j; i < n; i += followers {
			a.Follows = append(a.Follows, ids[i])
		}
		if err := s.AddAccount(a); err != nil {
			return nil, err
		}
		accounts = append(accounts, a)
	}
	return accounts, nil
}

// demoPassword derives a demo password (8–36 characters, as LibreView's
// rules ask).
func demoPassword(seed uint64, kind string, i int) string {
	h := hashUint(fmt.Sprintf("password %s %d", kind, i), seed)
	return fmt.Sprintf("Demo-%x", h[:5])
}

// simulatedFiscalCode returns the codice fiscale of the i-th simulated
// person named first last: derived from the names, born in Firenze on a
// date that differs for every i below 26,880, so that two simulated people
// with the same names have different codes.
func simulatedFiscalCode(first, last string, i int) string {
	birth := time.Date(1930+i/336%80, time.Month(1+i/28%12), 1+i%28, 0, 0, 0, 0, time.UTC)
	cf, ok := codicefiscale.Derive(codicefiscale.Person{Surname: last, GivenName: first, Birth: birth, Place: "D612"})
	if !ok {
		panic("librelinkuptest: no fiscal code for " + first + " " + last)
	}
	return cf
}
