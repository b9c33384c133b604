package events

import (
	"math"
	"time"
)

// detailTimes rewrites, in place, the timestamps of an Inspector finding
// decoded from its API form (epoch seconds) into the form EventBridge
// details carry.
func detailTimes(f map[string]any) {
	toDetail(f, "firstObservedAt", "lastObservedAt", "updatedAt")
	if p, ok := f["packageVulnerabilityDetails"].(map[string]any); ok {
		toDetail(p, "vendorCreatedAt", "vendorUpdatedAt")
	}
	if x, ok := f["exploitabilityDetails"].(map[string]any); ok {
		toDetail(x, "lastKnownExploitAt")
	}
	rs, _ := f["resources"].([]any)
	for _, r := range rs {
		r, _ := r.(map[string]any)
		d, _ := r["details"].(map[string]any)
		if img, ok := d["awsEcrContainerImage"].(map[string]any); ok {
			toDetail(img, "pushedAt", "lastInUseAt")
		}
	}
}

// toDetail rewrites the epoch-seconds numbers at keys of m.
func toDetail(m map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := m[k].(float64); ok {
			ms := int64(math.Round(v * 1000))
			m[k] = DetailTime(time.UnixMilli(ms))
		}
	}
}
