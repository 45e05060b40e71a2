package kafkasink

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// Header names on alert messages.
const (
	HeaderRuleID      = "rule_id"
	HeaderRuleVersion = "rule_version"
	HeaderAlertID     = "alert_id"
)

// Header names on dead-letter messages.
const (
	HeaderReason          = "reason"
	HeaderError           = "error"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
)

var (
	_ alerts.Sink           = (*Producer)(nil)
	_ engine.DeadLetterSink = (*Producer)(nil)
)

// Alert sends a to the alerts topic: key a.Key, value the alert as JSON (as cepd replay
// prints it), headers rule_id, rule_version and alert_id. It implements alerts.Sink:
// called from shard goroutines, it blocks only while sarama's input queue is full.
func (p *Producer) Alert(a *alerts.Alert) {
	p.alerts.Add(1)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		// Still send it, so that the alert is not lost: its identity and the reason.
		p.encodeErrs.Add(1)
		p.log.Error("alert does not encode as JSON; sending its identity only", "alert_id", a.ID, "err", err)
		buf.Reset()
		_ = enc.Encode(map[string]string{"id": a.ID, "kind": a.Kind, "rule_id": a.RuleID,
			"rule_version": a.RuleVersion, "key": a.Key, "encode_error": err.Error()})
	}
	value := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	msg := &sarama.ProducerMessage{Topic: p.cfg.AlertsTopic, Key: sarama.StringEncoder(a.Key),
		Value: sarama.ByteEncoder(value), Headers: []sarama.RecordHeader{
			{Key: []byte(HeaderRuleID), Value: []byte(a.RuleID)},
			{Key: []byte(HeaderRuleVersion), Value: []byte(a.RuleVersion)},
			{Key: []byte(HeaderAlertID), Value: []byte(a.ID)},
		}}
	if err := p.send(msg); err != nil {
		p.log.Error("alert after the producer closed", "alert_id", a.ID, "err", err)
	}
}

// DeadLetter sends d to the dead-letter topic: value the original bytes untouched,
// headers reason, error, source_topic, source_partition and source_offset. It
// implements engine.DeadLetterSink.
func (p *Producer) DeadLetter(d engine.DeadLetter) {
	p.deadLetters.Add(1)
	h := []sarama.RecordHeader{
		{Key: []byte(HeaderReason), Value: []byte(d.Reason)},
		{Key: []byte(HeaderError), Value: []byte(d.Error)},
	}
	part := strconv.Itoa(d.Partition)
	if p.cfg.Locate != nil {
		if topic, kp, ok := p.cfg.Locate(d.Partition); ok {
			h = append(h, sarama.RecordHeader{Key: []byte(HeaderSourceTopic), Value: []byte(topic)})
			part = strconv.Itoa(int(kp))
		}
	}
	h = append(h,
		sarama.RecordHeader{Key: []byte(HeaderSourcePartition), Value: []byte(part)},
		sarama.RecordHeader{Key: []byte(HeaderSourceOffset), Value: []byte(strconv.FormatInt(d.Offset, 10))})
	msg := &sarama.ProducerMessage{Topic: p.cfg.DeadLetterTopic, Value: sarama.ByteEncoder(d.Raw), Headers: h}
	if err := p.send(msg); err != nil {
		p.log.Error("dead letter after the producer closed", "reason", d.Reason, "offset", d.Offset, "err", err)
	}
}
