package service

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// Backtests implements cepv1.BacktestsServer; every method is Unimplemented for now.
type Backtests struct {
	cepv1.UnimplementedBacktestsServer
}

// CreateBacktest implements cepv1.BacktestsServer.
func (Backtests) CreateBacktest(context.Context, *cepv1.CreateBacktestRequest) (*cepv1.Backtest, error) {
	return nil, status.Error(codes.Unimplemented, "backtests are not implemented yet: run `cepd replay` on a JSONL file meanwhile")
}

// GetBacktest implements cepv1.BacktestsServer.
func (Backtests) GetBacktest(context.Context, *cepv1.GetBacktestRequest) (*cepv1.Backtest, error) {
	return nil, status.Error(codes.Unimplemented, "backtests are not implemented yet")
}

// CancelBacktest implements cepv1.BacktestsServer.
func (Backtests) CancelBacktest(context.Context, *cepv1.CancelBacktestRequest) (*cepv1.Backtest, error) {
	return nil, status.Error(codes.Unimplemented, "backtests are not implemented yet")
}
