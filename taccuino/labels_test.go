package taccuino

import (
	"testing"

	"fsecgm/cgm"
	"fsecgm/connectors/connsync"
	"fsecgm/taccuino/auth"
	"fsecgm/taccuino/consent"
	"fsecgm/taccuino/locale"
)

// TestLabelsExist checks that every label key the pages build from a
// value has a text in both languages.
func TestLabelsExist(t *testing.T) {
	t.Parallel()
	var keys []string
	for _, a := range consent.Actions() {
		keys = append(keys, "tac_act_"+string(a))
	}
	for _, r := range []consent.Reason{consent.ReasonUnauthenticated, consent.ReasonUnknownAction, consent.ReasonNotPermitted,
		consent.ReasonNoRelationship, consent.ReasonCameOfAge, consent.ReasonBirthDateUnknown, consent.ReasonGuardianshipEnded,
		consent.ReasonDelegationExpired, consent.ReasonDelegationRevoked, consent.ReasonNoCareRelationship, consent.ReasonMissingScope,
		consent.ReasonNoConsent, consent.ReasonMinor, consent.ReasonInvalidRequest, consent.ReasonNotFound, consent.ReasonError} {
		keys = append(keys, "tac_reason_"+string(r))
	}
	for _, b := range []consent.Basis{consent.BasisSelf, consent.BasisParent, consent.BasisTutor, consent.BasisDelegate,
		consent.BasisMMG, consent.BasisPLS, consent.BasisDiabetology, consent.BasisService, consent.BasisRegistry, consent.BasisOperator,
		consent.BasisLink} {
		keys = append(keys, "tac_basis_"+string(b))
	}
	for _, o := range []consent.Outcome{consent.OutcomeAllowed, consent.OutcomeDenied, consent.OutcomeError} {
		keys = append(keys, "tac_out_"+string(o))
	}
	for _, r := range []auth.Role{auth.RoleCitizen, auth.RolePractitioner, auth.RoleService, consent.RoleOperator} {
		keys = append(keys, "tac_role_"+string(r))
	}
	for _, r := range []auth.PractitionerRole{auth.PractitionerMMG, auth.PractitionerPLS, auth.PractitionerDiabetologist, auth.PractitionerOther} {
		keys = append(keys, "tac_prole_"+string(r))
	}
	for tr := cgm.TrendFallingFast; tr <= cgm.TrendRisingFast; tr++ {
		keys = append(keys, "tac_trend_"+trendName(tr))
	}
	for _, m := range []string{"consent-granted", "consent-revoked", "delegation-granted", "delegation-revoked", "connected", "disconnected",
		"credentials-updated", "sync-requested", "notifications-sent", "notifications-saved"} {
		if !isMessage(m) {
			t.Errorf("message %s not accepted", m)
		}
		keys = append(keys, "tac_msg_"+m)
	}
	for _, st := range []connsync.State{connsync.StateActive, connsync.StateActionNeeded, connsync.StateBadCredentials,
		connsync.StateBackingOff, connsync.StateError, connsync.StateIdentityMismatch, connsync.StateDisconnected} {
		keys = append(keys, "tac_state_"+string(st))
	}
	for _, m := range []connsync.Mode{connsync.ModePatient, connsync.ModeFollower} {
		keys = append(keys, "tac_mode_"+string(m))
	}
	for _, p := range []string{"patient", "parent", "mmg", "diabetologist", "delegate", "analyst"} {
		keys = append(keys, "tac_persona_"+p)
	}
	for _, k := range keys {
		for _, l := range []locale.Lang{locale.IT, locale.EN} {
			if l.T(k) == k {
				t.Errorf("label %s has no %s text", k, l)
			}
		}
	}
}
