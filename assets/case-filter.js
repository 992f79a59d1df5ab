/* The case filter panel's choice, made in the browser: the panel's control values as the
   filter store's dict, and whether the date range shows (the "custom" window). A server
   call here cost the map one more round trip before its cases were read (~30-70 ms of each
   filter change). The server reads the store through CaseChoice.from_store, which drops
   what it does not know: nothing here decides what a filter means. */
(function () {
  "use strict";
  var ns = (window.dash_clientside = window.dash_clientside || {});
  ns.caseFilter = ns.caseFilter || {};

  /* choose(value, ..., fields): the control values in fields.names' order, then the
     fields store ({names: [...], custom: "<the custom window's key>"}). */
  ns.caseFilter.choose = function () {
    var values = Array.prototype.slice.call(arguments);
    var fields = values.pop() || { names: [], custom: "custom" };
    var choice = {};
    fields.names.forEach(function (name, i) {
      choice[name] = values[i] === undefined ? null : values[i];
    });
    var custom = choice.window === fields.custom;
    return [choice, "filter-row filter-dates" + (custom ? "" : " hidden")];
  };
})();
