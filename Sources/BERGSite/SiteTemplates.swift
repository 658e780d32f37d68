// The pages' Mustache templates, style sheet and the index's filter script. `{{x}}` is
// HTML-escaped; `{{{x}}}` is used only for the style, the script and Ink's sanitised HTML.

extension SiteRenderer {
    /// The start of every page; `pageTitle` names it.
    static let headTemplate = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{pageTitle}}</title>
    <style>{{{style}}}</style>
    </head>
    """

    static let indexTemplate = """
    {{> head}}
    <body>
    <header>
    <h1>{{title}}</h1>
    <p>{{note}}</p>
    </header>
    <main>
    <div id="filters" hidden>
    <label>Search <input id="search" type="search" placeholder="id, model type, dataset…"></label>
    <label>Modality <select name="modality"><option value="">all</option>{{#modalities}}<option>{{value}}</option>{{/modalities}}</select></label>
    <label>Dataset <select name="dataset"><option value="">all</option>{{#datasets}}<option>{{value}}</option>{{/datasets}}</select></label>
    <label>Species <select name="species"><option value="">all</option>{{#species}}<option>{{value}}</option>{{/species}}</select></label>
    <label>Model type <select name="type"><option value="">all</option>{{#types}}<option>{{value}}</option>{{/types}}</select></label>
    <output id="shown"></output>
    </div>
    <table id="models">
    <thead><tr><th>model id</th><th>version</th><th>modality</th><th>dataset</th><th>species</th><th>model type</th><th>selection</th><th>download</th></tr></thead>
    <tbody>
    {{#models}}
    <tr data-modality="{{modality}}" data-dataset="{{dataset}}" data-species="{{species}}" data-type="{{type}}">
    <td><a href="{{link}}"><code>{{id}}</code></a></td><td>{{version}}</td><td>{{modality}}</td><td>{{dataset}}</td><td>{{species}}</td><td>{{type}}</td><td>{{selection}}</td><td>{{download}}</td>
    </tr>
    {{/models}}
    </tbody>
    </table>
    <p>{{count}} model version(s). Each page has the model's card, its files and the commands to run it.</p>
    </main>
    <script>{{{script}}}</script>
    </body>
    </html>

    """

    static let modelTemplate = """
    {{> head}}
    <body>
    <header>
    <p><a href="../../index.html">← {{siteTitle}}</a></p>
    <h1><code>{{id}}</code> <small>version {{version}}</small></h1>
    <p>From {{source}}.{{#hasVersions}} Other versions: {{#versions}}<a href="{{link}}">{{version}}</a> {{/versions}}{{/hasVersions}}</p>
    </header>
    <main>
    <section id="use">
    <h2>Use it</h2>
    <p>Command line:</p>
    <pre><code>{{commands}}</code></pre>
    <p>Swift:</p>
    <pre><code>{{swift}}</code></pre>
    </section>
    {{#hasPictures}}
    <section id="pictures">
    <h2>Pictures</h2>
    {{#pictures}}
    <figure>
    <img src="{{file}}" alt="{{caption}}">
    <figcaption>{{caption}}</figcaption>
    </figure>
    {{/pictures}}
    </section>
    {{/hasPictures}}
    {{#hasSelection}}
    <section id="selection">
    <h2>Selection</h2>
    <p>{{#selectionRequired}}A selection is required.{{/selectionRequired}}{{^selectionRequired}}A selection is optional.{{/selectionRequired}}</p>
    <table>
    <thead><tr><th>key</th><th>valid values</th><th>default</th><th>description</th></tr></thead>
    <tbody>
    {{#selection}}
    <tr><td><code>{{key}}</code></td><td>{{values}}</td><td>{{default}}</td><td>{{description}}</td></tr>
    {{/selection}}
    </tbody>
    </table>
    </section>
    {{/hasSelection}}
    <section id="files">
    <h2>Files</h2>
    {{#hasFiles}}
    <table>
    <thead><tr><th>file</th><th>from</th><th>size</th><th>SHA-256</th></tr></thead>
    <tbody>
    {{#files}}
    <tr><td><code>{{name}}</code></td><td class="location">{{location}}</td><td>{{size}}</td><td class="hash"><code>{{sha256}}</code></td></tr>
    {{/files}}
    </tbody>
    </table>
    {{/hasFiles}}
    {{^hasFiles}}
    <p>None: the model needs no download.</p>
    {{/hasFiles}}
    </section>
    {{#hasCheck}}
    <section id="check">
    {{{check}}}
    </section>
    {{/hasCheck}}
    <section id="card">
    {{{card}}}
    </section>
    </main>
    </body>
    </html>

    """

    static let style = """
    body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem; color: #1d1d1f; line-height: 1.45; }
    h1 small { font-weight: normal; color: #555; }
    h1 code { font-size: 1em; }
    select { max-width: 16rem; }
    #models td:first-child { white-space: nowrap; }
    table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
    th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
    thead th { background: #f2f2f5; }
    tr[hidden] { display: none; }
    pre { background: #f6f6f8; padding: 0.75rem; overflow-x: auto; }
    code { font-family: ui-monospace, monospace; font-size: 0.88rem; }
    td.hash code, td.location { word-break: break-all; }
    #filters { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin-bottom: 0.5rem; }
    #filters[hidden] { display: none; }
    figure { display: inline-block; vertical-align: top; max-width: 100%; margin: 0.5rem 1rem 1rem 0; }
    figure img { max-width: 100%; border: 1px solid #ddd; }
    figcaption { font-size: 0.9rem; color: #444; max-width: 40rem; }
    """

    /// Shows the filters (hidden without JavaScript), sets them from the page's query
    /// (`?modality=…&dataset=…&species=…&type=…&q=…`), and hides rows that do not match.
    static let indexScript = """
    (function () {
      var filters = document.getElementById('filters');
      var search = document.getElementById('search');
      var selects = filters.querySelectorAll('select');
      var rows = document.querySelectorAll('#models tbody tr');
      var shown = document.getElementById('shown');
      function apply() {
        var text = search.value.trim().toLowerCase(), count = 0;
        rows.forEach(function (row) {
          var match = row.textContent.toLowerCase().indexOf(text) >= 0;
          selects.forEach(function (select) { if (select.value && row.dataset[select.name] !== select.value) match = false; });
          row.hidden = !match;
          if (match) count += 1;
        });
        shown.textContent = count + ' of ' + rows.length + ' shown';
      }
      // index.html?species=macaque&q=v1 opens with those filters set.
      var params = new URLSearchParams(window.location.search);
      search.value = params.get('q') || '';
      selects.forEach(function (select) { select.value = params.get(select.name) || ''; });
      filters.hidden = false;
      search.addEventListener('input', apply);
      selects.forEach(function (select) { select.addEventListener('change', apply); });
      apply();
    })();
    """
}
