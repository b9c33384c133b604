package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// VEX is a set of OpenVEX statements (https://openvex.dev) about which
// vulnerabilities affect which products. Statements that a vulnerability
// is not_affected or fixed in a product silence the matching findings;
// affected and under_investigation leave them.
type VEX struct {
	statements []vexStatement
}

type vexStatement struct {
	vulns    []string // name, @id and aliases
	products []vexProduct
	status   string
	reason   string
}

type vexProduct struct {
	id   string   // purl, or another identifier
	subs []string // subcomponent purls; empty: the whole product
}

// maxVEX bounds one VEX document.
const maxVEX = 64 << 20

// ReadVEX reads OpenVEX documents. Both the v0.2.0 form (vulnerability and
// products as objects) and the earlier one (as strings) are accepted.
func ReadVEX(names ...string) (*VEX, error) {
	v := &VEX{}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("scan: vex: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxVEX+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("scan: vex %s: %w", name, err)
		}
		if len(data) > maxVEX {
			return nil, fmt.Errorf("scan: vex %s: larger than %d bytes", name, maxVEX)
		}
		if err := v.add(name, data); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// ParseVEX parses one OpenVEX document.
func ParseVEX(name string, data []byte) (*VEX, error) {
	v := &VEX{}
	return v, v.add(name, data)
}

func (v *VEX) add(name string, data []byte) error {
	var doc struct {
		Context    string `json:"@context"`
		Statements []struct {
			Vulnerability json.RawMessage   `json:"vulnerability"`
			Products      []json.RawMessage `json:"products"`
			Status        string            `json:"status"`
			Justification string            `json:"justification"`
			Impact        string            `json:"impact_statement"`
			Action        string            `json:"action_statement"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("scan: vex %s: %w", name, err)
	}
	if !strings.HasPrefix(doc.Context, "https://openvex.dev/ns") {
		return fmt.Errorf("scan: vex %s: not an OpenVEX document (@context %q)", name, doc.Context)
	}
	for i, s := range doc.Statements {
		where := fmt.Sprintf("scan: vex %s: statement %d", name, i+1)
		st := vexStatement{status: s.Status}
		switch s.Status {
		case "not_affected", "fixed", "affected", "under_investigation":
		default:
			return fmt.Errorf("%s: unknown status %q", where, s.Status)
		}
		vulns, err := vexVulnerability(s.Vulnerability)
		if err != nil || len(vulns) == 0 {
			return fmt.Errorf("%s: vulnerability: want a name or an object with name/@id", where)
		}
		st.vulns = vulns
		for _, raw := range s.Products {
			p, err := vexProductOf(raw)
			if err != nil {
				return fmt.Errorf("%s: product: %w", where, err)
			}
			st.products = append(st.products, p)
		}
		if len(st.products) == 0 {
			return fmt.Errorf("%s: no products", where)
		}
		if s.Status == "not_affected" && s.Justification == "" && s.Impact == "" {
			return fmt.Errorf("%s: not_affected needs a justification or an impact_statement", where)
		}
		st.reason = "VEX " + strings.ReplaceAll(s.Status, "_", " ")
		if s.Justification != "" {
			st.reason += ": " + strings.ReplaceAll(s.Justification, "_", " ")
		}
		if s.Impact != "" {
			st.reason += ": " + s.Impact
		}
		v.statements = append(v.statements, st)
	}
	return nil
}

func vexVulnerability(raw json.RawMessage) ([]string, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return []string{name}, nil
	}
	var obj struct {
		ID      string   `json:"@id"`
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range append([]string{obj.Name, obj.ID}, obj.Aliases...) {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func vexProductOf(raw json.RawMessage) (vexProduct, error) {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return vexProduct{id: id}, nil
	}
	var obj struct {
		ID            string `json:"@id"`
		Identifiers   map[string]string
		Subcomponents []struct {
			ID          string            `json:"@id"`
			Identifiers map[string]string `json:"identifiers"`
		} `json:"subcomponents"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return vexProduct{}, err
	}
	p := vexProduct{id: obj.ID}
	if p.id == "" {
		p.id = obj.Identifiers["purl"]
	}
	for _, s := range obj.Subcomponents {
		id := s.ID
		if id == "" {
			id = s.Identifiers["purl"]
		}
		if id != "" {
			p.subs = append(p.subs, id)
		}
	}
	if p.id == "" && len(p.subs) == 0 {
		return p, fmt.Errorf("no @id")
	}
	return p, nil
}

// Verdict returns the reason a finding is silenced, or "" when no
// statement silences it. The last statement that applies decides, as
// later statements in a VEX document supersede earlier ones.
func (v *VEX) Verdict(f *Finding, subject Subject) string {
	if v == nil {
		return ""
	}
	reason := ""
	for _, st := range v.statements {
		if !st.namesVuln(f) || !st.covers(f, subject) {
			continue
		}
		reason = ""
		if st.status == "not_affected" || st.status == "fixed" {
			reason = st.reason
		}
	}
	return reason
}

func (st *vexStatement) namesVuln(f *Finding) bool {
	for _, id := range st.vulns {
		if hasID(f.Finding, id) {
			return true
		}
	}
	return false
}

// covers reports whether a statement's products include the finding's
// package: named directly by purl, or as a subcomponent of a product that
// is this image (by digest) or any image when the product names none.
func (st *vexStatement) covers(f *Finding, subject Subject) bool {
	for _, p := range st.products {
		if strings.HasPrefix(p.id, "pkg:") && !strings.HasPrefix(p.id, "pkg:oci/") && purlMatches(p.id, f.Pkg.PURL) {
			return true
		}
		isImage := p.id == "" || strings.HasPrefix(p.id, "pkg:oci/") || strings.Contains(p.id, "sha256:")
		if !isImage {
			continue
		}
		if p.id != "" && subject.Digest != "" && !strings.Contains(p.id, subject.Digest) &&
			!strings.Contains(p.id, strings.ReplaceAll(subject.Digest, ":", "%3A")) {
			continue
		}
		if len(p.subs) == 0 {
			return true
		}
		for _, s := range p.subs {
			if purlMatches(s, f.Pkg.PURL) {
				return true
			}
		}
	}
	return false
}
