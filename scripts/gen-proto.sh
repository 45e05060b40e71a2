#!/usr/bin/env bash
# Regenerates the Go code and the OpenAPI document of api/cep/v1/*.proto. Works offline
# once the plugins are installed: protoc from apt (protobuf-compiler), the plugins at the
# pinned versions below (installed with `go install` when missing or at another version).
# google/api/*.proto come from api/third_party/googleapis (copied from grpc-gateway v1.16.0);
# google/protobuf/*.proto from protoc's own include directory.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2
GRPC_GATEWAY=v2.31.0

if ! command -v protoc >/dev/null; then
  echo "gen-proto: protoc missing: apt-get install protobuf-compiler" >&2
  exit 1
fi
bin="$(go env GOPATH)/bin"
export PATH="$bin:$PATH"

# have NAME VERSION: true when the plugin binary NAME was built from module version VERSION.
have() { [ -x "$bin/$1" ] && go version -m "$bin/$1" 2>/dev/null | grep -q "[[:space:]]$2\([[:space:]]\|$\)"; }
have protoc-gen-go "$PROTOC_GEN_GO" || go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
have protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC" || go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"
have protoc-gen-grpc-gateway "$GRPC_GATEWAY" || go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$GRPC_GATEWAY"
have protoc-gen-openapiv2 "$GRPC_GATEWAY" || go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$GRPC_GATEWAY"

rm -f api/cep/v1/*.pb.go api/cep/v1/*.pb.gw.go
protoc -I api -I api/third_party/googleapis \
  --go_out=. --go_opt=module=github.com/cepd/cepd \
  --go-grpc_out=. --go-grpc_opt=module=github.com/cepd/cepd \
  --grpc-gateway_out=. --grpc-gateway_opt=module=github.com/cepd/cepd \
  --openapiv2_out=api --openapiv2_opt=allow_merge=true,merge_file_name=openapi,json_names_for_fields=false,disable_default_errors=false \
  api/cep/v1/*.proto
# The gateway writes 64-bit integers as JSON numbers (api/gateway_json.go), not
# as the strings of the proto3 JSON mapping: the document says so.
perl -0pi -e 's/"type": "string",(\s*)"format": "(u?int64)"/"type": "integer",$1"format": "$2"/g' api/openapi.swagger.json
echo "gen-proto: regenerated api/cep/v1 and api/openapi.swagger.json"
