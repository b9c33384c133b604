// Package bus is Vigil's event bus: every event in the store's outbox is
// matched against the event rules (EventBridge patterns) and delivered, at
// least once, to the targets of every rule that matches — signed HTTP
// webhooks, the deployment gate, the log — with EventBridge's input
// transformers and retry policies, and a dead-letter list for what cannot
// be delivered.
//
// Delivery state lives in the store, so that nothing acknowledged is lost
// when a process dies and any number of processes share the work: a
// Dispatcher turns events into deliveries under a cursor that one
// dispatcher at a time may move, and deliverers claim deliveries with a
// lease. Each target is worked on apart, in a lane with its own bounded
// queue and workers and a timeout per attempt, so that a slow target
// delays only its own deliveries; every HTTP request goes through the
// egress policy's client (package egress).
package bus
