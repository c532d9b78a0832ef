// The signed-in dashboard under load: the paylink page (its figures come from in-process admin API calls
// over the link's rollups), its project's page (the same figures for the project and its top paylinks)
// and the projects list, after the public-path load has filled the database. Absolute figures: no
// baseline serves these pages.
import autocannon from 'autocannon'

const CONNECTIONS = 4
const DURATION = Number(process.env.BENCH_DASHBOARD_DURATION ?? 10)

/** Signs in with the demo credentials the server printed and returns the cookie header of the session. */
async function signIn(baseUrl, output) {
  const [, email, password] = /sign in as (\S+) with the password (\S+)/.exec(output) ?? []
  const form = await fetch(`${baseUrl}/dashboard/login`)
  const cookies = form.headers.getSetCookie().map((c) => c.split(';')[0])
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1]
  const login = await fetch(`${baseUrl}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, email, password }),
  })
  if (login.status !== 303) throw new Error(`dashboard sign-in answered ${login.status}`)
  return [...cookies, ...login.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ')
}

export async function benchDashboard(baseUrl, output, paylinkId) {
  const cookie = await signIn(baseUrl, output)
  const linkPage = await fetch(`${baseUrl}/dashboard/paylinks/${paylinkId}`, { headers: { cookie } })
  const projectPath = /href="(\/dashboard\/projects\/[0-9a-f]{24})"/.exec(await linkPage.text())?.[1]
  if (!projectPath) throw new Error('the paylink page does not link its project')
  const pages = []
  for (const [name, path] of [
    ['paylink page (30 days)', `/dashboard/paylinks/${paylinkId}`],
    ['project page (30 days)', projectPath],
    ['projects list', '/dashboard/projects'],
  ]) {
    const result = await autocannon({
      url: baseUrl + path,
      connections: CONNECTIONS,
      duration: DURATION,
      headers: { cookie },
    })
    pages.push({
      name,
      rps: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      failed: result.non2xx + result.errors + result.timeouts,
    })
  }
  return pages
}

export function dashboardReport(runs) {
  const lines = [
    `## Dashboard pages, signed in (${CONNECTIONS} connections, ${DURATION} s each, after the load above)`,
    '',
    '| database | page | req/s | p50 ms | p99 ms | failed |',
    '|---|---|---|---|---|---|',
  ]
  for (const { name, pages } of runs) {
    for (const p of pages)
      lines.push(`| ${name} | ${p.name} | ${p.rps} | ${p.p50} | ${p.p99} | ${p.failed} |`)
  }
  return [...lines, '']
}
