package telemetry

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"fsecgm/taccuino/web"
)

// Route labels for requests that matched no route of the service.
const (
	// RouteUnmatched labels a request no handler claimed.
	RouteUnmatched = "(unmatched)"
)

// Instrument wraps next, the whole service, counting every request by
// method, route pattern and status and timing it. The route pattern is
// the one echo matched ("/api/v1/patients/:id/readings"), which
// web.RequestLogger writes in a web.RouteNote the wrapper puts in the
// request's context; for a handler outside echo (such as /metrics on the
// same listener), the http.ServeMux pattern. The raw path is never used.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.httpInFlight.Inc()
		defer m.httpInFlight.Dec()
		note := &web.RouteNote{}
		r = r.WithContext(web.WithRouteNote(r.Context(), note))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// A handler that panics with http.ErrAbortHandler (a dropped
			// upload) is still counted, then the panic goes on.
			route := note.Route
			if route == "" {
				route = patternPath(r.Pattern)
			}
			method := methodLabel(r.Method)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.httpRequests.WithLabelValues(method, route, statusLabel(status)).Inc()
			m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// patternPath returns the path of a ServeMux pattern ("GET /metrics" →
// "/metrics"), or RouteUnmatched for none or the catch-all "/".
func patternPath(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	if p == "" || p == "/" {
		return RouteUnmatched
	}
	return p
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusWriter records the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on (streamed responses).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// Hijack passes a hijack on.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("telemetry: the response writer cannot be hijacked")
	}
	return h.Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
