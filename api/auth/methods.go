package auth

import "strings"

// MethodCapability is the capability each cep.v1 method needs (by full gRPC method
// name). Unknown methods need Manage, so a method added without a rule here is closed.
func MethodCapability(fullMethod string) Capability {
	// Probes (Kubernetes' gRPC probe, grpc_health_probe) carry no token; reflection
	// describes the API as the open /v1/openapi.json does.
	if strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.") {
		return Open
	}
	svc, m, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/cep.v1."), "/")
	switch svc {
	case "Rules":
		switch m {
		case "SetRuleMode":
			return Manage
		case "ValidateRule", "CreateRule", "UpdateRule", "DeleteRule", "RollbackRule", "ShadowRule":
			return Edit
		case "GetRule", "ListRules", "ListRuleVersions", "GetRuleVersion", "DiffRuleVersions", "ListAuditEntries", "CompareShadow":
			return Read
		}
	case "Lists":
		switch m {
		case "CreateList", "ImportList", "AddListEntries", "RemoveListEntries", "DeleteList":
			return Edit
		case "GetList", "ListLists", "ListListVersions", "ListListAudit":
			return Read
		}
	case "Schema":
		if m == "PutSchema" {
			return Manage
		}
		return Read
	case "Alerts":
		return Read
	case "Backtests":
		return Backtest
	case "Events", "Decisions":
		return Send
	case "Analyst":
		switch m {
		case "CreateSuppression", "DeleteSuppression", "MarkAlert":
			return Edit
		}
		return Read
	case "Admin":
		if m == "GetHealth" {
			return Open
		}
		return Manage
	}
	return Manage
}
