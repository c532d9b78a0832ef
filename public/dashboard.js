// Progressive enhancement of the dashboard: every page works without this file; with it, URLs copy in one
// click, the product picker counts, destructive forms ask first, and figures become charts (Chart.js).
;(() => {
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector))

  // Copy buttons: shown only where the Clipboard API exists.
  for (const button of $$('[data-copy]')) {
    if (!navigator.clipboard) continue
    button.hidden = false
    button.addEventListener('click', async () => {
      const input = document.getElementById(button.dataset.copy)
      const status = button.closest('.field, .secret')?.querySelector('[data-copy-status]')
      try {
        await navigator.clipboard.writeText(input.value)
        button.textContent = 'Copied'
        if (status) status.textContent = 'Copied to the clipboard.'
      } catch {
        input.select()
        if (status) status.textContent = 'Select the text and copy it.'
      }
      setTimeout(() => {
        button.textContent = 'Copy'
      }, 2000)
    })
  }

  // The product picker: 1 to N products; the server enforces the same rule.
  for (const form of $$('[data-product-picker]')) {
    const max = Number(form.dataset.max)
    const boxes = $$('input[name="products"]', form)
    const count = form.querySelector('[data-picker-count]')
    const update = () => {
      const chosen = boxes.filter((b) => b.checked).length
      for (const box of boxes) box.disabled = !box.checked && chosen >= max
      if (count) count.textContent = `${chosen} of ${max} chosen.`
      boxes[0]?.setCustomValidity(chosen === 0 ? 'Choose at least one product.' : '')
    }
    for (const box of boxes) box.addEventListener('change', update)
    update()
  }

  for (const form of $$('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault()
    })
  }

  // The refund form: a dialog names the amount instead of the confirmation page the server shows without
  // this script. A second click sends nothing more (the form's idempotency key would refund once anyway).
  for (const form of $$('form[data-refund-form]')) {
    form.addEventListener('submit', (event) => {
      if (form.dataset.sent) {
        event.preventDefault()
        return
      }
      const amount = form.elements.amount.value.trim()
      const what = amount ? `${amount} ${form.dataset.currency}` : 'everything that is left'
      if (!window.confirm(`Refund ${what} to the buyer? A refund cannot be undone.`)) {
        event.preventDefault()
        return
      }
      form.querySelector('[data-refund-confirm]').value = 'yes'
      form.dataset.sent = 'yes'
    })
    // Back from the next page, the form may be sent again (with the same key).
    window.addEventListener('pageshow', () => {
      delete form.dataset.sent
      form.querySelector('[data-refund-confirm]').value = ''
    })
  }

  // Times in the reader's time zone; the UTC time the server wrote stays as the tooltip.
  const localTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
  for (const time of $$('time[datetime]')) {
    const at = new Date(time.getAttribute('datetime'))
    if (Number.isNaN(at.getTime())) continue
    time.title = time.textContent
    time.textContent = localTime.format(at)
  }

  // Statistics in the browser's time zone unless one was chosen.
  const tz = document.querySelector('[data-tz]')
  const url = new URL(window.location.href)
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone
  if (tz && !url.searchParams.has('tz') && local && local !== tz.value) {
    url.searchParams.set('tz', local)
    window.location.replace(url.toString())
    return
  }
  const period = document.querySelector('[data-period-form]')
  if (period) {
    const days = period.querySelector('select[name="days"]')
    for (const input of $$('input[type="date"]', period)) {
      input.addEventListener('change', () => {
        days.value = ''
      })
    }
    days.addEventListener('change', () => {
      if (days.value) for (const input of $$('input[type="date"]', period)) input.value = ''
    })
  }

  if (!window.Chart) return
  const Chart = window.Chart
  const reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches
  Chart.defaults.animation = reduced ? false : { duration: 300 }
  Chart.defaults.maintainAspectRatio = false
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily
  const palette = ['#2353d6', '#8fa9f0', '#067647', '#b54708', '#7a5af8', '#c11574']
  const integers = { beginAtZero: true, ticks: { precision: 0 } }

  const builders = {
    daily: (s) => ({
      type: 'bar',
      data: {
        labels: s.labels,
        datasets: [
          {
            type: 'line',
            label: 'Visits',
            data: s.visits,
            borderColor: palette[0],
            backgroundColor: palette[0],
            yAxisID: 'y',
            tension: 0.25,
          },
          {
            type: 'line',
            label: 'Unique visitors',
            data: s.visitors,
            borderColor: palette[1],
            backgroundColor: palette[1],
            yAxisID: 'y',
            tension: 0.25,
            borderDash: [4, 3],
          },
          { type: 'bar', label: 'Paid orders', data: s.paid, backgroundColor: palette[2], yAxisID: 'y1' },
        ],
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        scales: {
          y: { ...integers, position: 'left', title: { display: true, text: 'Visits' } },
          y1: {
            ...integers,
            position: 'right',
            grid: { drawOnChartArea: false },
            title: { display: true, text: 'Paid orders' },
          },
        },
      },
    }),
    // Per currency: revenue and refunds as bars side by side, net revenue as a line over them.
    revenue: (s) => ({
      type: 'bar',
      data: {
        labels: s.labels,
        datasets: s.revenue.flatMap((r, i) => [
          {
            type: 'bar',
            label: `${r.currency} revenue`,
            data: r.values,
            backgroundColor: palette[(2 * i + 2) % palette.length],
            stack: `${r.currency} revenue`,
          },
          {
            type: 'bar',
            label: `${r.currency} refunded`,
            data: s.refunded[i].values,
            backgroundColor: '#d92d20',
            stack: `${r.currency} refunded`,
          },
          {
            type: 'line',
            label: `${r.currency} net revenue`,
            data: s.net[i].values,
            borderColor: palette[(2 * i + 3) % palette.length],
            backgroundColor: palette[(2 * i + 3) % palette.length],
            tension: 0.25,
          },
        ]),
      },
      options: { interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true } } },
    }),
    bars: (s) => ({
      type: 'bar',
      data: {
        labels: s.labels,
        datasets: [
          { label: 'Visits', data: s.visits, backgroundColor: palette[0] },
          { label: 'Paid orders', data: s.paid, backgroundColor: palette[2] },
        ],
      },
      options: { indexAxis: 'y', scales: { x: integers } },
    }),
  }

  for (const canvas of $$('canvas[data-chart]')) {
    const build = builders[canvas.dataset.chart]
    if (build) new Chart(canvas, build(JSON.parse(canvas.dataset.series)))
  }
})()
