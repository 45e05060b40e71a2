// Package workload generates synthetic card and online-banking event streams with
// labelled fraud, for benchmarks, demos, Kafka load and for measuring the rules of
// testdata/fraud. It is cepd's answer to the PaySim and Sparkov generators, and writes
// events in the shape of testdata/fraud/schema.yaml, one JSON object a line.
//
// # What a stream holds
//
// Cardholders live in real cities (lat/lon, country, currency, time zone) and have a
// spending level, a taste for online shopping and a device and address they bank from.
// Merchants have a category and an ISO 18245 MCC; amounts are log-normal per category.
// Activity follows a daily rhythm in the cardholder's local time. Genuine behaviour:
// card-present purchases at local merchants (position of the merchant) and online ones
// (position of the IP address, rarely a VPN exit elsewhere); authorisations captured
// minutes later under the same auth_id (tips at restaurants and taxis), sometimes reversed
// and sometimes refunded hours to days later; ATM withdrawals (single message, no
// capture); logins, some followed by a transfer; password resets and new devices, each
// followed by a login; trips to other cities at believable speeds.
//
// Fraud scenarios (ScenarioNames) are injected on random cards so that about
// Config.FraudRate of the events belong to one; every event of an instance, captures and
// reversals included, carries "label": "<scenario>". Each scenario is named after the
// rule of testdata/fraud meant to catch it: card-testing, velocity-burst,
// impossible-travel, account-takeover, auth-no-capture, refund-exceeds-purchase,
// refund-spree, high-risk-mcc-burst, atm-cashout, cp-then-distant-cnp, many-merchants,
// mule-transfers, rising-amounts, device-cashout, split-transactions,
// credential-stuffing, over-capture, device-many-cards (one device, many cards: the one
// scenario only a rule keyed by device_id sees), zero-auth-storm and watchlist-merchant.
// Scenarios are drawn in turn, so each gets an equal share. watchlist-merchant buys at
// ring merchants with fixed ids (m990001–m990005, m990010–m990012) that testdata/fraud
// data lists; no genuine purchase is made there.
//
// # Order and lateness
//
// Events are written in event-time order except Config.LateRate of them, each held back
// by 1 ms to Config.MaxLateness of event time: every event written before it is less than
// MaxLateness younger. An engine whose out-of-orderness is at least MaxLateness therefore
// sees no late event. Events are numbered in the order written (event_id e0000000001…).
//
// # Determinism and cost
//
// All randomness comes from one math/rand/v2 PCG seeded by Config.Seed, and nothing
// depends on the clock or on map order: the same Config gives the same bytes. The stream
// is produced incrementally: memory holds the cards, the merchants and the events created
// but not yet written (pending captures and refunds, at most a few days ahead), not the
// stream. Config.Events is exact: when the budget nearly runs out only one-event
// activities are started, and the pending events are then drained, so the stream ends
// with a sparse tail of refunds. About 0.7 µs an event on one core (BenchmarkGenerate).
//
// # Concurrency
//
// A Generator is not safe for concurrent use; the package has no mutable globals, so
// separate Generators may run in parallel.
package workload
