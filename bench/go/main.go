// The Go baseline: the user-service routes on the standard library's net/http over an in-memory map,
// with the same minimal validation as the raw node:http server. Listens on PORT (0 picks a free one) and prints
// "listening <port>" once bound.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type user struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type store struct {
	mu     sync.RWMutex
	users  map[string]*user
	order  []string
	emails map[string]struct{}
}

const maxBodyBytes = 16384

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func send(w http.ResponseWriter, status int, body interface{}) {
	payload, _ := json.Marshal(body)
	if status < 400 {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

func problem(w http.ResponseWriter, status int) {
	send(w, status, map[string]interface{}{"type": "about:blank", "title": http.StatusText(status), "status": status})
}

func (s *store) list(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			problem(w, http.StatusBadRequest)
			return
		}
		limit = n
	}
	s.mu.RLock()
	items := make([]*user, 0, limit)
	for _, id := range s.order {
		if len(items) == limit {
			break
		}
		items = append(items, s.users[id])
	}
	var next interface{}
	if len(items) == limit && len(s.order) > limit {
		next = items[limit-1].ID
	}
	s.mu.RUnlock()
	send(w, http.StatusOK, map[string]interface{}{"items": items, "next_cursor": next})
}

func (s *store) create(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		problem(w, http.StatusUnsupportedMediaType)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	if len(raw) > maxBodyBytes {
		problem(w, http.StatusRequestEntityTooLarge)
		return
	}
	var body struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Name == nil || *body.Name == "" || body.Email == nil ||
		!strings.Contains(*body.Email, "@") {
		problem(w, http.StatusBadRequest)
		return
	}
	key := strings.ToLower(*body.Email)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	u := &user{ID: newID(), Name: *body.Name, Email: *body.Email, Status: "active", CreatedAt: now, UpdatedAt: now}
	s.mu.Lock()
	if _, taken := s.emails[key]; taken {
		s.mu.Unlock()
		problem(w, http.StatusConflict)
		return
	}
	s.users[u.ID] = u
	s.order = append(s.order, u.ID)
	s.emails[key] = struct{}{}
	s.mu.Unlock()
	w.Header().Set("Location", "/users/"+u.ID)
	send(w, http.StatusCreated, u)
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/users/"):
		s.mu.RLock()
		u, ok := s.users[strings.TrimPrefix(path, "/users/")]
		s.mu.RUnlock()
		if !ok {
			problem(w, http.StatusNotFound)
			return
		}
		send(w, http.StatusOK, u)
	case path == "/users" && r.Method == http.MethodGet:
		s.list(w, r)
	case path == "/users" && r.Method == http.MethodPost:
		s.create(w, r)
	case path == "/readyz" || path == "/healthz":
		send(w, http.StatusOK, map[string]string{"status": "ok"})
	default:
		problem(w, http.StatusNotFound)
	}
}

func main() {
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	s := &store{users: map[string]*user{}, emails: map[string]struct{}{}}
	server := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
