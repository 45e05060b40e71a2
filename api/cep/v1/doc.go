// Package cepv1 is generated from api/cep/v1/*.proto by scripts/gen-proto.sh: the
// messages of the cep.v1 API, its gRPC client and server stubs, and the grpc-gateway
// handlers that serve it as REST/JSON. Do not edit the *.pb.go and *.pb.gw.go files.
package cepv1
