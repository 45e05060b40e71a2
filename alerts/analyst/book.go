package analyst

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cepd/cepd/alerts"
)

// Labels of feedback.
const (
	LabelFraud         = "fraud"          // confirmed fraud: the alert was right
	LabelFalsePositive = "false_positive" // the alert was wrong
)

// Feedback is an analyst's verdict on one alert. The alert's rule, key and time are kept
// with it so that precision needs no other record of the alert.
type Feedback struct {
	AlertID string `json:"alert_id"`
	RuleID  string `json:"rule_id"`
	Key     string `json:"key"`
	// AlertTime is the alert's last event time: precision over time counts by it.
	AlertTime time.Time `json:"alert_time"`
	Label     string    `json:"label"`
	Comment   string    `json:"comment,omitempty"`
	Author    string    `json:"author"`
	At        time.Time `json:"at"`
}

// Limits of what an entry holds, so that every line stays small.
const (
	MaxText     = 2048 // a reason or comment, in bytes
	MaxField    = 256  // a key, rule id, alert id or author
	MaxDuration = 366 * 24 * time.Hour
)

// ErrInvalid wraps the errors a bad request gets; ErrNotFound an unknown suppression.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
)

// Book is the state of an analyst log: the suppressions (kept current in Suppressions for
// the alert path), the feedback per alert, and the log's entries as the audit. Safe for
// concurrent use.
type Book struct {
	log Log
	sup *alerts.Suppressions
	now func() time.Time

	syncMu sync.Mutex // one Sync at a time, so entries apply in log order
	mu     sync.RWMutex
	pos    int64
	sups   map[string]alerts.Suppression // by id, ended or not (until deleted)
	fb     map[string]Feedback           // by alert id: the latest
	audit  []Entry
}

// maxAudit bounds the entries a Book keeps in memory for the audit listing (the log
// keeps them all).
const maxAudit = 100_000

// Open reads the log into a new Book whose suppressions are kept in sup. now (nil:
// time.Now) stamps entries.
func Open(ctx context.Context, log Log, sup *alerts.Suppressions, now func() time.Time) (*Book, error) {
	if now == nil {
		now = time.Now
	}
	b := &Book{log: log, sup: sup, now: now, sups: map[string]alerts.Suppression{}, fb: map[string]Feedback{}}
	if err := b.Sync(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Sync applies the entries appended to the log since the last Sync (by this instance or
// another sharing the log).
func (b *Book) Sync(ctx context.Context) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.RLock()
	pos := b.pos
	b.mu.RUnlock()
	var got []Entry
	if err := b.log.Read(ctx, pos, func(e Entry) { got = append(got, e) }); err != nil {
		return err
	}
	if len(got) == 0 {
		return nil
	}
	b.mu.Lock()
	changed := false
	for _, e := range got {
		b.pos = max(b.pos, e.Seq)
		changed = b.apply(e) || changed
		b.audit = append(b.audit, e)
	}
	if over := len(b.audit) - maxAudit; over > 0 {
		b.audit = slices.Delete(b.audit, 0, over)
	}
	var list []alerts.Suppression
	if changed {
		for _, s := range b.sups {
			list = append(list, s)
		}
	}
	b.mu.Unlock()
	if changed {
		b.sup.Set(list)
	}
	return nil
}

// apply folds one entry into the state (b.mu held); it reports whether the suppressions
// changed.
func (b *Book) apply(e Entry) bool {
	switch e.Action {
	case ActionSuppress:
		if s := e.Suppression; s != nil && s.ID != "" {
			b.sups[s.ID] = *s
			return true
		}
	case ActionUnsuppress:
		if _, ok := b.sups[e.ID]; ok {
			delete(b.sups, e.ID)
			return true
		}
	case ActionFeedback:
		if f := e.Feedback; f != nil && f.AlertID != "" {
			b.fb[f.AlertID] = *f
		}
	}
	return false
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkField(name, v string, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fmt.Errorf("%w: %s is required", ErrInvalid, name)
	case len(v) > MaxField:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, name, MaxField)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	return nil
}

func checkText(name, v string) error {
	if len(v) > MaxText {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, name, MaxText)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	return nil
}

// Suppress records a suppression (its ID, Created set here) and returns it once it is
// in force. Key, Until (in the future, at most a year away), a reason and an author are
// required; RuleID "" suppresses every rule's alerts for the key.
func (b *Book) Suppress(ctx context.Context, s alerts.Suppression) (alerts.Suppression, error) {
	now := b.now().UTC()
	for _, c := range []struct{ n, v string }{{"key", s.Key}, {"author", s.Author}} {
		if err := checkField(c.n, c.v, true); err != nil {
			return s, err
		}
	}
	if err := checkField("rule_id", s.RuleID, false); err != nil {
		return s, err
	}
	if strings.TrimSpace(s.Reason) == "" {
		return s, fmt.Errorf("%w: a reason is required (the audit keeps it)", ErrInvalid)
	}
	if err := checkText("reason", s.Reason); err != nil {
		return s, err
	}
	switch {
	case !s.Until.After(now):
		return s, fmt.Errorf("%w: until (%s) is not in the future", ErrInvalid, s.Until.UTC().Format(time.RFC3339))
	case s.Until.Sub(now) > MaxDuration:
		return s, fmt.Errorf("%w: until is more than a year away", ErrInvalid)
	}
	s.ID, s.Created, s.Until = newID(), now, s.Until.UTC()
	if err := b.log.Append(ctx, Entry{At: now, Author: s.Author, Action: ActionSuppress, Suppression: &s}); err != nil {
		return s, err
	}
	return s, b.Sync(ctx)
}

// Unsuppress ends suppression id (ErrNotFound if there is none).
func (b *Book) Unsuppress(ctx context.Context, id, author, reason string) error {
	if err := b.Sync(ctx); err != nil {
		return err
	}
	b.mu.RLock()
	_, ok := b.sups[id]
	b.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: suppression %q", ErrNotFound, id)
	}
	if err := checkField("author", author, true); err != nil {
		return err
	}
	if err := checkText("reason", reason); err != nil {
		return err
	}
	if err := b.log.Append(ctx, Entry{At: b.now().UTC(), Author: author, Action: ActionUnsuppress, ID: id, Reason: reason}); err != nil {
		return err
	}
	return b.Sync(ctx)
}

// Suppressions lists the suppressions, by key then id; ended ones only with ended.
func (b *Book) Suppressions(ended bool) []alerts.Suppression {
	now := b.now()
	b.mu.RLock()
	var out []alerts.Suppression
	for _, s := range b.sups {
		if ended || now.Before(s.Until) {
			out = append(out, s)
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(x, y alerts.Suppression) int {
		return cmpStrings(x.Key+"\x00"+x.ID, y.Key+"\x00"+y.ID)
	})
	return out
}

func cmpStrings(a, b string) int { return strings.Compare(a, b) }

// Mark records feedback on an alert (the latest feedback on an alert counts). AlertID,
// RuleID, Author and a label are required.
func (b *Book) Mark(ctx context.Context, f Feedback) (Feedback, error) {
	for _, c := range []struct{ n, v string }{{"alert_id", f.AlertID}, {"rule_id", f.RuleID}, {"author", f.Author}} {
		if err := checkField(c.n, c.v, true); err != nil {
			return f, err
		}
	}
	if err := checkField("key", f.Key, false); err != nil {
		return f, err
	}
	if f.Label != LabelFraud && f.Label != LabelFalsePositive {
		return f, fmt.Errorf("%w: label %q: want %s or %s", ErrInvalid, f.Label, LabelFraud, LabelFalsePositive)
	}
	if err := checkText("comment", f.Comment); err != nil {
		return f, err
	}
	f.At = b.now().UTC()
	if err := b.log.Append(ctx, Entry{At: f.At, Author: f.Author, Action: ActionFeedback, Feedback: &f}); err != nil {
		return f, err
	}
	return f, b.Sync(ctx)
}

// FeedbackOn returns the latest feedback on an alert.
func (b *Book) FeedbackOn(alertID string) (Feedback, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	f, ok := b.fb[alertID]
	return f, ok
}

// Label returns the latest feedback label of an alert ("" without feedback): the
// backtest's lookup.
func (b *Book) Label(alertID string) string {
	f, _ := b.FeedbackOn(alertID)
	return f.Label
}

// Audit returns the newest entries (at most limit, 0: 100), newest first, optionally of
// one action.
func (b *Book) Audit(action string, limit int) []Entry {
	if limit <= 0 {
		limit = 100
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []Entry
	for i := len(b.audit) - 1; i >= 0 && len(out) < limit; i-- {
		if action == "" || b.audit[i].Action == action {
			out = append(out, b.audit[i])
		}
	}
	return out
}
