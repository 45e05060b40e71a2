package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// numberJSON is the gateway's JSON marshaler with 64-bit integers written as JSON
// numbers. protojson writes int64 and uint64 fields as strings (the proto3 JSON mapping,
// for JavaScript's 53-bit numbers); cepd's 64-bit values are counters, offsets and
// Unix milliseconds, all far below 2^53, and an operator's jq or dashboard wants
// numbers. gRPC is unchanged (the fields stay int64); requests accept both forms
// (protojson reads either). Field order is kept.
type numberJSON struct {
	*runtime.JSONPb
}

// Marshal implements runtime.Marshaler.
func (m numberJSON) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case proto.Message:
		b, err := m.JSONPb.Marshal(v)
		if err != nil {
			return nil, err
		}
		return int64sAsNumbers(b, v.ProtoReflect().Descriptor())
	case map[string]any: // a stream's {"result": message} or {"error": status}
		var buf bytes.Buffer
		buf.WriteByte('{')
		first := true
		for k, x := range v {
			b, err := m.Marshal(x)
			if err != nil {
				return nil, err
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(b)
		}
		buf.WriteByte('}')
		return buf.Bytes(), nil
	}
	return m.JSONPb.Marshal(v)
}

// int64sAsNumbers rewrites the JSON of a message of type md, unquoting the values of its
// 64-bit integer fields (at any depth, in lists, map values and Int64Value wrappers).
func int64sAsNumbers(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out bytes.Buffer
	if err := rewriteMessage(dec, &out, md); err != nil {
		return nil, fmt.Errorf("gateway JSON: %w", err)
	}
	return out.Bytes(), nil
}

func is64(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

// rewriteMessage copies one value of message type md from dec to out.
func rewriteMessage(dec *json.Decoder, out *bytes.Buffer, md protoreflect.MessageDescriptor) error {
	name := md.FullName()
	if name == "google.protobuf.Int64Value" || name == "google.protobuf.UInt64Value" {
		return rewriteScalar(dec, out, true)
	}
	if strings.HasPrefix(string(name), "google.protobuf.") { // Struct, Timestamp, Duration...: as protojson wrote them
		return copyValue(dec, out)
	}
	object := func(tok json.Token) error {
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return fmt.Errorf("%s: want an object, got %v", name, tok)
		}
		return nil
	}
	return rewriteDelimited(dec, out, '{', '}', object, func() error {
		key, err := copyKey(dec, out)
		if err != nil {
			return err
		}
		fd := md.Fields().ByName(protoreflect.Name(key))
		if fd == nil {
			fd = md.Fields().ByJSONName(key)
		}
		if fd == nil {
			return copyValue(dec, out)
		}
		return rewriteField(dec, out, fd)
	})
}

// rewriteField copies the value of field fd.
func rewriteField(dec *json.Decoder, out *bytes.Buffer, fd protoreflect.FieldDescriptor) error {
	elem := func() error {
		switch {
		case fd.IsMap():
			return rewriteMap(dec, out, fd.MapValue())
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			return rewriteMessage(dec, out, fd.Message())
		}
		return rewriteScalar(dec, out, is64(fd.Kind()))
	}
	if !fd.IsList() {
		return elem()
	}
	return rewriteList(dec, out, func() error { return rewriteValue(dec, out, fd) })
}

// rewriteValue rewrites one value of field fd: a message, or a scalar.
func rewriteValue(dec *json.Decoder, out *bytes.Buffer, fd protoreflect.FieldDescriptor) error {
	if fd.Kind() == protoreflect.MessageKind {
		return rewriteMessage(dec, out, fd.Message())
	}
	return rewriteScalar(dec, out, is64(fd.Kind()))
}

// rewriteMap copies a map whose values are of field vd.
func rewriteMap(dec *json.Decoder, out *bytes.Buffer, vd protoreflect.FieldDescriptor) error {
	return rewriteDelimited(dec, out, '{', '}', nil, func() error {
		if _, err := copyKey(dec, out); err != nil {
			return err
		}
		return rewriteValue(dec, out, vd)
	})
}

// rewriteList copies a list, each element by elem.
func rewriteList(dec *json.Decoder, out *bytes.Buffer, elem func() error) error {
	return rewriteDelimited(dec, out, '[', ']', nil, elem)
}

// rewriteDelimited copies null, or the object or list dec is at: open (after check, if
// any, accepts the opening token), each element by elem with commas between, close.
func rewriteDelimited(dec *json.Decoder, out *bytes.Buffer, open, close byte, check func(json.Token) error, elem func() error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		out.WriteString("null")
		return nil
	}
	if check != nil {
		if err := check(tok); err != nil {
			return err
		}
	}
	out.WriteByte(open)
	for i := 0; dec.More(); i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		if err := elem(); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return err
	}
	out.WriteByte(close)
	return nil
}

// copyKey copies an object's key and the colon after it, and returns the key.
func copyKey(dec *json.Decoder, out *bytes.Buffer) (string, error) {
	kt, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, _ := kt.(string)
	kb, _ := json.Marshal(key)
	out.Write(kb)
	out.WriteByte(':')
	return key, nil
}

// rewriteScalar copies a scalar; with unquote, a string holding an integer is written
// as a number.
func rewriteScalar(dec *json.Decoder, out *bytes.Buffer, unquote bool) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if unquote && len(raw) > 2 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil && isInteger(s) {
			out.WriteString(s)
			return nil
		}
	}
	out.Write(raw)
	return nil
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// copyValue copies one JSON value as it is.
func copyValue(dec *json.Decoder, out *bytes.Buffer) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	out.Write(raw)
	return nil
}
