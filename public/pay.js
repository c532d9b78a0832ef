// Progressive enhancement of the payment form: one submit per click, and card digits grouped by four.
// The page works without it; the server alone guarantees that an order is paid at most once.
for (const form of document.querySelectorAll('[data-pay-form]')) {
  const button = form.querySelector('[data-pay-button]')
  form.addEventListener('submit', () => {
    if (button) {
      button.disabled = true
      button.textContent = 'Processing…'
    }
  })
  const number = form.querySelector('#card_number')
  if (number) {
    number.addEventListener('input', () => {
      const digits = number.value.replace(/\D/g, '').slice(0, 19)
      number.value = digits.replace(/(\d{4})(?=\d)/g, '$1 ')
    })
  }
}
