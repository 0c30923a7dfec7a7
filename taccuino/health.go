package taccuino

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"fsecgm/migrations"
	"fsecgm/taccuino/web"

	"github.com/labstack/echo/v5"
)

// healthz answers 200 while the process is alive (liveness).
func (s *Server) healthz(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database is reachable and its schema is
// current (no migration pending), 503 otherwise (readiness).
func (s *Server) readyz(c *echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	type check struct {
		Status  string  `json:"status"`
		Error   string  `json:"error,omitempty"`
		Pending []int64 `json:"pending_migrations,omitempty"`
	}
	out := struct {
		Status   string `json:"status"`
		Database check  `json:"database"`
		Schema   check  `json:"schema"`
	}{Status: "ok", Database: check{Status: "ok"}, Schema: check{Status: "ok"}}
	status := http.StatusOK
	if err := s.deps.Pool.Ping(ctx); err != nil {
		web.Logger(c).Warn("readiness: database unreachable", slog.String("err", err.Error()))
		out.Status, out.Database = "unavailable", check{Status: "unavailable", Error: "database unreachable"}
		out.Schema = check{Status: "unknown"}
		return c.JSON(http.StatusServiceUnavailable, out)
	}
	pending, err := migrations.Pending(ctx, s.deps.Pool)
	switch {
	case err != nil:
		web.Logger(c).Warn("readiness: migrations unknown", slog.String("err", err.Error()))
		out.Status, out.Schema, status = "unavailable", check{Status: "unknown", Error: "schema version unknown"}, http.StatusServiceUnavailable
	case len(pending) > 0:
		out.Status, out.Schema, status = "unavailable", check{Status: "outdated", Pending: pending}, http.StatusServiceUnavailable
	}
	return c.JSON(status, out)
}
