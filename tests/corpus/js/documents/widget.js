(function () {
  const list = document.querySelector('#results');
  const status = document.getElementById('status');

  function render(results) {
    // <fill render>
  }

  function showStatus(text) {
    // <fill status>
  }

  function welcome() {
    // <fill welcome>
  }

  function newRequestId() {
    // <fill request-id>
  }

  fetch('/api/search?q=' + encodeURIComponent(document.querySelector('#q').value))
    .then((r) => r.json())
    .then(render);
})();
