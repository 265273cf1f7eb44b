-- The mixed load of `MIX=1 benches/memory.sh`: per ten requests of each wrk connection, six GETs
-- by id, two filtered pages of 20 (an `in` filter on the unique sku), one POST of a new row and
-- one PATCH of an existing row's colour. Ids and skus are drawn at random from the ROWS rows
-- the script loaded (ids 9 to ROWS + 8, skus B000001 to B<ROWS>); new skus are unique per wrk
-- thread and request. Arguments: the API key, then ROWS.
local prefix = "/dynamic-entity/product-abstracts"
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   wrk.headers["X-Api-Key"] = args[1]
   wrk.headers["Content-Type"] = "application/json"
   rows = tonumber(args[2])
   sent = 0
   math.randomseed(tid * 7919)
end

local function sku(n)
   return string.format("B%06d", n)
end

function request()
   sent = sent + 1
   local slot = sent % 10
   local n = math.random(rows)
   if slot < 6 then
      return wrk.format("GET", prefix .. "/" .. (n + 8))
   elseif slot < 8 then
      local first = math.random(math.max(rows - 20, 1))
      local skus = {}
      for i = 0, 19 do
         skus[#skus + 1] = "%22" .. sku(first + i) .. "%22"
      end
      return wrk.format("GET", prefix .. "?filter%5Bproduct-abstracts.sku%5D=%7B%22in%22%3A%5B"
         .. table.concat(skus, "%2C") .. "%5D%7D")
   elseif slot == 8 then
      local body = string.format(
         '{"data":[{"sku":"M%d-%d","fk_tax_set":1,"attributes":"{\\"brand\\":\\"Mixed\\"}",'
         .. '"color_code":"#A1B2C3","created_at":"2026-12-07 10:00:00"}]}', tid, sent)
      return wrk.format("POST", prefix, nil, body)
   else
      local body = string.format('{"data":{"color_code":"#%06X"}}', (n * 40503) % 16777216)
      return wrk.format("PATCH", prefix .. "/" .. (n + 8), nil, body)
   end
end
