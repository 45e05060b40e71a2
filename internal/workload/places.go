package workload

import "math"

// city is a place cards live in, merchants trade in and IP addresses geolocate to.
type city struct {
	name     string
	country  string // ISO 3166 alpha-2
	currency string
	lat, lon float64
	tzMin    int     // UTC offset in minutes (no daylight saving: the rhythm is approximate)
	weight   float64 // share of cardholders living there
	ipPrefix byte    // first octet of the addresses that geolocate there
}

// cities are real places with rounded coordinates. Weights make the card base mostly
// North American and European, as an issuer's would be; the rest are travel and
// fraud destinations.
var cities = []city{
	{"New York", "US", "USD", 40.7128, -74.0060, -300, 9, 23},
	{"Los Angeles", "US", "USD", 34.0522, -118.2437, -480, 7, 24},
	{"Chicago", "US", "USD", 41.8781, -87.6298, -360, 5, 50},
	{"Houston", "US", "USD", 29.7604, -95.3698, -360, 4, 63},
	{"Miami", "US", "USD", 25.7617, -80.1918, -300, 3, 66},
	{"Seattle", "US", "USD", 47.6062, -122.3321, -480, 3, 67},
	{"Toronto", "CA", "CAD", 43.6532, -79.3832, -300, 4, 70},
	{"Mexico City", "MX", "MXN", 19.4326, -99.1332, -360, 2, 187},
	{"Sao Paulo", "BR", "BRL", -23.5505, -46.6333, -180, 2, 177},
	{"Buenos Aires", "AR", "ARS", -34.6037, -58.3816, -180, 1, 181},
	{"London", "GB", "GBP", 51.5074, -0.1278, 0, 8, 81},
	{"Manchester", "GB", "GBP", 53.4808, -2.2426, 0, 3, 82},
	{"Paris", "FR", "EUR", 48.8566, 2.3522, 60, 6, 90},
	{"Lyon", "FR", "EUR", 45.7640, 4.8357, 60, 2, 91},
	{"Berlin", "DE", "EUR", 52.5200, 13.4050, 60, 5, 85},
	{"Munich", "DE", "EUR", 48.1351, 11.5820, 60, 3, 88},
	{"Madrid", "ES", "EUR", 40.4168, -3.7038, 60, 4, 83},
	{"Barcelona", "ES", "EUR", 41.3874, 2.1686, 60, 3, 84},
	{"Rome", "IT", "EUR", 41.9028, 12.4964, 60, 3, 93},
	{"Milan", "IT", "EUR", 45.4642, 9.1900, 60, 3, 94},
	{"Amsterdam", "NL", "EUR", 52.3676, 4.9041, 60, 3, 145},
	{"Brussels", "BE", "EUR", 50.8503, 4.3517, 60, 2, 109},
	{"Vienna", "AT", "EUR", 48.2082, 16.3738, 60, 2, 80},
	{"Warsaw", "PL", "PLN", 52.2297, 21.0122, 60, 2, 89},
	{"Stockholm", "SE", "SEK", 59.3293, 18.0686, 60, 2, 78},
	{"Lisbon", "PT", "EUR", 38.7223, -9.1393, 0, 2, 95},
	{"Dublin", "IE", "EUR", 53.3498, -6.2603, 0, 2, 87},
	{"Istanbul", "TR", "TRY", 41.0082, 28.9784, 180, 1, 176},
	{"Dubai", "AE", "AED", 25.2048, 55.2708, 240, 0.5, 94},
	{"Mumbai", "IN", "INR", 19.0760, 72.8777, 330, 0.5, 103},
	{"Bangkok", "TH", "THB", 13.7563, 100.5018, 420, 0.3, 110},
	{"Singapore", "SG", "SGD", 1.3521, 103.8198, 480, 0.5, 111},
	{"Hong Kong", "HK", "HKD", 22.3193, 114.1694, 480, 0.5, 112},
	{"Tokyo", "JP", "JPY", 35.6762, 139.6503, 540, 1, 126},
	{"Sydney", "AU", "AUD", -33.8688, 151.2093, 600, 1, 101},
	{"Johannesburg", "ZA", "ZAR", -26.2041, 28.0473, 120, 0.5, 102},
	{"Lagos", "NG", "NGN", 6.5244, 3.3792, 60, 0.2, 105},
	{"Cairo", "EG", "EGP", 30.0444, 31.2357, 120, 0.3, 156},
}

// earthRadiusKm is the mean Earth radius, as the rules' geo_km uses.
const earthRadiusKm = 6371.0088

// distanceKm is the great-circle (haversine) distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// cityKm is the distance between two cities' centres.
func cityKm(a, b int) float64 {
	return distanceKm(cities[a].lat, cities[a].lon, cities[b].lat, cities[b].lon)
}

// dailyRhythm weighs activity by local hour: quiet nights, a lunch and an evening peak.
var dailyRhythm = [24]float64{
	0.10, 0.06, 0.04, 0.04, 0.05, 0.10, 0.25, 0.45, 0.65, 0.75, 0.80, 0.85,
	0.95, 0.90, 0.80, 0.80, 0.85, 0.95, 1.00, 0.95, 0.80, 0.60, 0.40, 0.20,
}

// localHour is the hour of day at UTC offset tzMin for a time in epoch milliseconds.
func localHour(ms int64, tzMin int) int {
	m := ms/60000 + int64(tzMin)
	h := (m / 60) % 24
	if h < 0 {
		h += 24
	}
	return int(h)
}
