// Package taccuino serves fsecgm over HTTP: the patient's notebook
// (taccuino) as server-rendered pages, the versioned JSON API under
// /api/v1 with its OpenAPI 3 document, and the health endpoints. It is the
// only package, with the kit taccuino/web and the FHIR and report packages
// it mounts, that imports echo.
//
// [New] builds the whole service: middleware and every route, in one
// function (routes.go). Every handler that touches a patient's record
// resolves the patient with web.Deps.Patient and runs its reads and
// writes through consent.Store.Access (web.Deps.Access), so that the rules
// decide and the access-log entry commits in the same transaction as the
// read; reads use cgmstore.Store.InTx on that transaction.
//
// Numbers in the JSON API are never rounded; the pages round them through
// taccuino/locale only.
package taccuino
