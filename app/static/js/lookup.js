/* The language of the date picker and of the search boxes: German day and
   month names, weeks from Monday (set before FAB's ab.js starts its pickers
   on document ready); select2's messages from the page's catalogue. */
(function () {
    var me = document.getElementById("pool-lookup-js");
    var locale = me ? me.getAttribute("data-locale") : "en";
    if (locale === "de" && $.fn.datepicker) {
        $.fn.datepicker.dates.de = {
            days: ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"],
            daysShort: ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"],
            daysMin: ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"],
            months: ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                     "September", "Oktober", "November", "Dezember"],
            monthsShort: ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt",
                          "Nov", "Dez"],
            today: "Heute", clear: "Löschen", weekStart: 1, format: "yyyy-mm-dd"
        };
        $.fn.datepicker.defaults.language = "de";
        $.fn.datepicker.defaults.weekStart = 1;
    }
    window.poolSelect2Language = me ? {
        errorLoading: function () { return me.getAttribute("data-error-loading"); },
        noResults: function () { return me.getAttribute("data-no-results"); },
        searching: function () { return me.getAttribute("data-searching"); },
        loadingMore: function () { return me.getAttribute("data-loading-more"); }
    } : undefined;
})();

/* select2 boxes that search the server (/lookup/<name>/) instead of shipping
   every row of a large table into the page. */
$(function () {
    $("select.pool-lookup").each(function () {
        var el = $(this);
        el.select2({
            theme: "bootstrap",
            width: "100%",
            allowClear: el.data("allow-clear") === true || el.data("allow-clear") === "true",
            placeholder: el.data("placeholder") || "",
            minimumInputLength: 0,
            language: window.poolSelect2Language,
            ajax: {
                url: el.data("url"),
                delay: 250,
                dataType: "json",
                data: function (p) {
                    var extra = {};
                    (el.data("params") || "").split("&").forEach(function (kv) {
                        if (kv) { var i = kv.indexOf("="); extra[kv.slice(0, i)] = kv.slice(i + 1); }
                    });
                    return $.extend(extra, {q: p.term || "", page: (p.page || 1) - 1});
                }
            }
        });
    });
});
