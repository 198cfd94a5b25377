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
