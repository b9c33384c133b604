package bus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>",
	// the HMAC under the target's secret of "<t>.<body>": the timestamp
	// is signed with the body, so that a captured delivery cannot be
	// replayed later under a new time.
	HeaderSignature = "Vigil-Signature"
	// HeaderEventID is the event's id: the same on every attempt and
	// redrive of one event to one target, for de-duplication.
	HeaderEventID = "Vigil-Event-Id"
	// HeaderDeliveryID names the delivery; HeaderAttempt counts attempts
	// from 1.
	HeaderDeliveryID = "Vigil-Delivery-Id"
	HeaderAttempt    = "Vigil-Delivery-Attempt"
	HeaderRule       = "Vigil-Rule"
)

// Sign returns the signature header value for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrSignature is returned by Verify for a signature that does not check.
var ErrSignature = errors.New("bus: bad signature")

// Verify checks a signature header against body, as a receiver does: the
// HMAC must match and the timestamp be within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: malformed header %q", ErrSignature, header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %s from now", ErrSignature, ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return fmt.Errorf("%w: HMAC does not match", ErrSignature)
	}
	return nil
}
