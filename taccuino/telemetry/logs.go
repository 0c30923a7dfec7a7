package telemetry

import (
	"context"
	"log/slog"

	"fsecgm/taccuino/web"
)

// RequestIDKey is the log attribute that holds the request id.
const RequestIDKey = "request_id"

// RequestIDHandler wraps h so that a record logged with the context of a
// request (logger.InfoContext(ctx, ...), the stores' and the sync's
// context-aware lines) carries the request's id (web.RequestID puts it in
// the context) as request_id, unless the logger already has one (the
// request logger of web.Logger does).
func RequestIDHandler(h slog.Handler) slog.Handler { return &idHandler{h: h} }

type idHandler struct {
	h     slog.Handler
	hasID bool // a request_id attribute was added with WithAttrs
}

func (h *idHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *idHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.hasID && ctx != nil {
		if id := web.RequestIDFromContext(ctx); id != "" {
			has := false
			r.Attrs(func(a slog.Attr) bool {
				has = a.Key == RequestIDKey
				return !has
			})
			if !has {
				r = r.Clone()
				r.AddAttrs(slog.String(RequestIDKey, id))
			}
		}
	}
	return h.h.Handle(ctx, r)
}

func (h *idHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	has := h.hasID
	for _, a := range attrs {
		if a.Key == RequestIDKey {
			has = true
		}
	}
	return &idHandler{h: h.h.WithAttrs(attrs), hasID: has}
}

// WithGroup opens a group: the request id added later would land inside
// it, which is still the request's line.
func (h *idHandler) WithGroup(name string) slog.Handler {
	return &idHandler{h: h.h.WithGroup(name), hasID: h.hasID}
}
