package service

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules/store"
)

// Schema implements cepv1.SchemaServer over the Rules service, which owns the schema the
// rules compile against (rules_schema.go).
type Schema struct {
	cepv1.UnimplementedSchemaServer
	Rules *Rules
	// OnChange, if set, is told of every version stored through the API (for the log).
	OnChange func(store.SchemaVersion)
}

// GetSchema implements cepv1.SchemaServer.
func (s *Schema) GetSchema(context.Context, *cepv1.GetSchemaRequest) (*cepv1.EventSchema, error) {
	schema, v := s.Rules.SchemaVersion()
	out := toEventSchema(schema, v)
	if len(v.Source) == 0 {
		out.Source = schema.String()
	}
	return out, nil
}

// PutSchema implements cepv1.SchemaServer.
func (s *Schema) PutSchema(ctx context.Context, req *cepv1.PutSchemaRequest) (*cepv1.EventSchema, error) {
	if req.GetSource() == "" {
		return nil, status.Error(codes.InvalidArgument, "source is empty: send the schema as YAML text (schema.yaml's format)")
	}
	if max := s.Rules.Limits.withDefaults().MaxSource; len(req.GetSource()) > max {
		return nil, status.Errorf(codes.InvalidArgument, "source is larger than %d bytes", max)
	}
	v, err := s.Rules.PutSchema(ctx, []byte(req.GetSource()), int(req.GetExpectVersion()), store.Change{Author: author(ctx), Comment: req.GetComment()})
	if err != nil {
		return nil, err
	}
	if s.OnChange != nil {
		s.OnChange(v)
	}
	schema, _ := s.Rules.SchemaVersion()
	return toEventSchema(schema, v), nil
}

// ListSchemaVersions implements cepv1.SchemaServer.
func (s *Schema) ListSchemaVersions(ctx context.Context, _ *cepv1.ListSchemaVersionsRequest) (*cepv1.ListSchemaVersionsResponse, error) {
	ss, ok := s.Rules.schemaStore()
	if !ok {
		return &cepv1.ListSchemaVersionsResponse{}, nil
	}
	vs, err := ss.SchemaVersions(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &cepv1.ListSchemaVersionsResponse{}
	for _, v := range vs {
		schema, err := event.ParseSchema(v.Source)
		if err != nil { // a version edited on disk that never ran: its text only
			out.Versions = append(out.Versions, toEventSchema(nil, v))
			continue
		}
		out.Versions = append(out.Versions, toEventSchema(schema, v))
	}
	return out, nil
}

// toEventSchema describes schema (which may be nil) at store version v.
func toEventSchema(schema *event.Schema, v store.SchemaVersion) *cepv1.EventSchema {
	out := &cepv1.EventSchema{Version: int32(v.Version), Source: string(v.Source), Author: v.Author, Comment: v.Comment, Action: v.Action}
	if !v.Time.IsZero() {
		out.UpdateTime = timestamppb.New(v.Time)
	}
	if schema == nil {
		return out
	}
	out.Name, out.Key, out.Time, out.Id = schema.Name, schema.KeyField, schema.TimeField, schema.IDField
	for _, f := range schema.Fields {
		out.Fields = append(out.Fields, &cepv1.SchemaField{Name: f.Name, Type: f.Type.String(), Optional: f.Optional})
	}
	return out
}
