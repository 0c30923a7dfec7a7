package taccuino

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v5"
)

// openAPIDoc is the OpenAPI 3 document of the JSON API, hand-written in
// openapi.json; TestOpenAPIMatchesRoutes keeps it and the routes in step.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document of the JSON API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// openAPI serves the document.
func (s *Server) openAPI(c *echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", openAPIDoc)
}
