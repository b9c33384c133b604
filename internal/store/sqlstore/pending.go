package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Placeholders until the bus and gate tables land; every call fails.
var errPending = errors.New("store: not implemented yet")

func (s *Store) PutEventRule(context.Context, store.EventRule) error         { return errPending }
func (s *Store) EventRules(context.Context) ([]store.EventRule, error)       { return nil, errPending }
func (s *Store) EventRule(context.Context, string) (*store.EventRule, error) { return nil, errPending }
func (s *Store) DeleteEventRule(context.Context, string) error               { return errPending }
func (s *Store) DispatchEvents(context.Context, int, func([]store.Event) ([]store.Delivery, error)) (int, error) {
	return 0, errPending
}
func (s *Store) AddDeliveries(context.Context, []store.Delivery) error { return errPending }
func (s *Store) ClaimDeliveries(context.Context, string, time.Duration, int) ([]store.Delivery, error) {
	return nil, errPending
}
func (s *Store) FinishDelivery(context.Context, int64, string, store.DeliveryOutcome) error {
	return errPending
}
func (s *Store) Delivery(context.Context, int64) (*store.Delivery, error) { return nil, errPending }
func (s *Store) Deliveries(context.Context, store.DeliveryQuery) ([]store.Delivery, error) {
	return nil, errPending
}
func (s *Store) RedriveDeliveries(context.Context, []int64, string) (int, error) {
	return 0, errPending
}
func (s *Store) PutGatePolicy(context.Context, store.GatePolicy) error    { return errPending }
func (s *Store) GatePolicies(context.Context) ([]store.GatePolicy, error) { return nil, errPending }
func (s *Store) GatePolicy(context.Context, string) (*store.GatePolicy, error) {
	return nil, errPending
}
func (s *Store) DeleteGatePolicy(context.Context, string) error             { return errPending }
func (s *Store) CreateGateRequest(context.Context, store.GateRequest) error { return errPending }
func (s *Store) GateRequest(context.Context, string) (*store.GateRequest, error) {
	return nil, errPending
}
func (s *Store) GateRequests(context.Context, store.GateRequestQuery) ([]store.GateRequest, string, error) {
	return nil, "", errPending
}
func (s *Store) UpdateGateRequest(context.Context, string, func(*store.GateRequest) (store.GateUpdate, error)) error {
	return errPending
}
func (s *Store) GateDecision(context.Context, string) (*store.GateDecision, error) {
	return nil, errPending
}
func (s *Store) GateDecisions(context.Context, store.GateDecisionQuery) ([]store.GateDecision, string, error) {
	return nil, "", errPending
}
