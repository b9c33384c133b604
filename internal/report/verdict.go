package report

import "strings"

// verdict is what an ignored finding's reason says in VEX terms.
type verdict struct {
	// status is "not_affected", "fixed", or "" when the reason states
	// neither (a plain ignore-file entry).
	status string
	// justification is one of OpenVEX's justifications, when the reason
	// names one.
	justification string
}

// vexJustifications are OpenVEX's status justifications.
var vexJustifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"inline_mitigations_already_exist",
}

// verdictOf reads an ignore reason (scan.Finding.IgnoredBecause). A VEX
// statement's reason is "VEX not affected: <justification>: <impact>"
// or "VEX fixed"; an ignore file's is "ignore file: <free text>", which
// counts as not_affected only when it says "not affected" or names one
// of OpenVEX's justifications (with spaces or underscores). Nothing is
// read as fixed but a VEX fixed statement: a person's "fixed in our
// fork" is not a vendor's fix.
func verdictOf(reason string) verdict {
	if strings.HasPrefix(reason, "VEX fixed") {
		return verdict{status: "fixed"}
	}
	norm := strings.ToLower(strings.ReplaceAll(reason, "_", " "))
	var v verdict
	for _, j := range vexJustifications {
		if strings.Contains(norm, strings.ReplaceAll(j, "_", " ")) {
			v = verdict{status: "not_affected", justification: j}
			break
		}
	}
	if v.status == "" && (strings.Contains(norm, "not affected") || strings.Contains(norm, "not-affected")) {
		v.status = "not_affected"
	}
	return v
}

// cdxJustification maps an OpenVEX justification to CycloneDX's impact
// analysis justification.
var cdxJustification = map[string]string{
	"component_not_present":                             "code_not_present",
	"vulnerable_code_not_present":                       "code_not_present",
	"vulnerable_code_not_in_execute_path":               "code_not_reachable",
	"vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
	"inline_mitigations_already_exist":                  "protected_by_mitigating_control",
}
