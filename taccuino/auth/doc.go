// Package auth identifies the callers of the HTTP API from bearer JWTs
// issued by the region's OpenID Connect provider, and provides a
// development issuer for "make run" and tests.
//
// # Verification
//
// A Verifier is configured with the provider's issuer, the expected audience
// and its JWKS URL. Verify accepts only compact JWS tokens signed with RS256
// or ES256 by a key of that JWKS whose type fits the alg (so "none", HS256
// keyed with the public key and any other algorithm are refused), with the
// exact iss, an aud holding the audience, an exp (required) and nbf
// respected within a leeway (default 30 s), and the typ header at+jwt of
// an access token (RFC 9068 §2.1), unless the token's client is one of
// Config.ClientIDs: an ID token of the same issuer and audience is not an
// access token.
//
// The key set is fetched (keys parsed by github.com/MicahParks/jwkset),
// kept in memory, and fetched again every five minutes (a key the issuer
// removes stops being trusted then, cached verifications included) and
// when a token names an unknown kid (key rotation). Such a token must
// first pass every check that needs no key (header, issuer, audience,
// times); then it waits for the one fetch in flight or the next allowed,
// at most one per UnknownKIDInterval (5 s), so that junk tokens can neither
// make the provider be fetched more often nor keep a genuine new key out.
// Errors wrap one of ErrMissing, ErrMalformed, ErrExpired,
// ErrNotYetValid, ErrBadSignature, ErrWrongIssuer, ErrWrongAudience,
// ErrAlgorithm, ErrClaims or ErrKeySetUnavailable, and never contain the
// token or values read from a token whose signature was not verified.
//
// # Identity claims
//
// The Principal is read from claims named by ClaimNames (see
// DefaultClaimNames for the defaults and their sources). In short:
//
//	role               "role": citizen | practitioner | service | analyst
//	fiscal code        "https://attributes.eid.gov.it/fiscal_number" (SPID/CIE OIDC,
//	                   value "TINIT-<CF>"), else "fiscal_number", else "fiscalNumber";
//	                   required and validated for citizens, practitioners and analysts
//	practitioner role  "practitioner_role": mmg | pls | diabetologist | other
//	organization       "organization_id" (optional, e.g. a diabetology centre)
//	organization role  "organization_role": "head" for the head of the centre
//	                   (optional; kept only for a practitioner with an organization)
//	population scope   "population_scope": "region" | "asl:CODE" (ASL codes TC,
//	                   NO, SE); required for analysts
//	client id          "client_id", else "azp"; required for services
//	scopes             "scope" (space-separated) and "scp" (array), services only
//	name               "name", else given_name + family_name (optional)
//
// Principal.HasScope implements SMART App Launch scope matching for service
// clients (see its documentation).
//
// An analyst (role "analyst") is a person of the regional health authority
// or of an ASL who reads the population's aggregates (package population)
// within the population scope of their token: the region, or one ASL. The
// head of a diabetology centre is a practitioner whose token carries the
// centre in "organization_id" and "head" in "organization_role": besides
// reading their patients as a diabetologist, they read the centre's
// aggregates and the region's for comparison. Neither claim gives access
// to any single person's data: the consent rules (package consent) refuse
// every patient route to an analyst, and the organization role adds
// nothing there.
//
// # Development issuer
//
// DevIssuer signs ES256 tokens with issuer DevIssuerID and audience
// DevAudience using a key kept in a file (DefaultDevKeyFile), shared by
// "fsecgm dev-token" and "fsecgm serve --dev". Its tokens are accepted only
// by a Verifier built from DevIssuer.VerifierConfig, which runs the same
// verification with a static key set; a Verifier for the real provider
// refuses them.
//
// Logging: a Principal logs (slog.LogValuer) as its role and a keyed hash of
// its subject, never its fiscal code; nothing in this package logs tokens.
package auth
