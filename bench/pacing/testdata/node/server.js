// express-rate-limit on loopback for the bench/pacing harness.
// Usage: node server.js PORT [LIMIT] [WINDOW_MS]
// One limiter per header mode, mounted on its own path; the key is the k
// query parameter, so that every run of the harness starts with a fresh one.
'use strict';
const express = require('express');
const { rateLimit } = require('express-rate-limit');

const port = Number(process.argv[2]);
const limit = Number(process.argv[3] || 20);
const windowMs = Number(process.argv[4] || 1000);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.js PORT [LIMIT] [WINDOW_MS]');
  process.exit(2);
}

const modes = {
  'draft-6': { standardHeaders: 'draft-6', legacyHeaders: false },
  'draft-7': { standardHeaders: 'draft-7', legacyHeaders: false },
  'draft-8': { standardHeaders: 'draft-8', legacyHeaders: false },
  legacy: { standardHeaders: false, legacyHeaders: true },
};

const app = express();
for (const [name, headers] of Object.entries(modes)) {
  app.use(
    '/' + name,
    rateLimit({
      windowMs,
      limit,
      ...headers,
      keyGenerator: (req) => String(req.query.k || 'default'),
      // The key is not an IP address: silence the IP-key validations.
      validate: false,
    }),
  );
}
app.use((req, res) => res.send('ok'));

const server = app.listen(port, '127.0.0.1', () => {
  console.log('ready ' + port);
});
server.keepAliveTimeout = 30000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
