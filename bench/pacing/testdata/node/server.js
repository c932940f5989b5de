// express-rate-limit and rolling-rate-limiter on loopback for the
// bench/pacing harness.
// Usage: node server.js PORT [LIMIT] [WINDOW_MS]
// One limiter per header mode, mounted on its own path; the key is the k
// query parameter, so that every run of the harness starts with a fresh one.
'use strict';
const express = require('express');
const { rateLimit } = require('express-rate-limit');
const { InMemoryRateLimiter } = require('rolling-rate-limiter');

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
// rolling-rate-limiter: a sliding log (every attempt's timestamp, blocked
// ones included, kept for one interval). It has no HTTP middleware and its
// docs name no headers, so this sends the IETF draft's fields: r is
// actionsRemaining, t is millisecondsUntilAllowed in whole seconds rounded
// up (at least 1: until the log has room again), and Retry-After the same.
const rolling = new InMemoryRateLimiter({ interval: windowMs, maxInInterval: limit });
app.use('/sliding-log', async (req, res, next) => {
  const info = await rolling.limitWithInfo(String(req.query.k || 'default'));
  const t = Math.max(1, Math.ceil(info.millisecondsUntilAllowed / 1000));
  res.set('RateLimit-Policy', `"log";q=${limit};w=${Math.ceil(windowMs / 1000)}`);
  res.set('RateLimit', `"log";r=${info.actionsRemaining};t=${t}`);
  if (info.blocked) {
    res.set('Retry-After', String(t));
    res.status(429).send('Too Many Requests');
    return;
  }
  next();
});
app.use((req, res) => res.send('ok'));

const server = app.listen(port, '127.0.0.1', () => {
  console.log('ready ' + port);
});
server.keepAliveTimeout = 30000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
